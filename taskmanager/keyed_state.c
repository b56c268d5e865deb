/* Keyed state: a thin front that checks arguments and dispatches to a
 * backend through the vtable of keyed_state_backend.h, and the "hashmap"
 * backend ("leveldb" is in keyed_state_leveldb.c).
 *
 * hashmap keeps one open-addressing table per key group of the subtask, so
 * visiting a key group walks only that group's slots (and dropping or
 * snapshotting a group never touches the others). Each table uses linear
 * probing with backward-shift deletion (no tombstones), stores the full
 * 64-bit hash next to the entry pointer so probes rarely touch entries,
 * and doubles when it would pass 3/4 full. An entry is one allocation:
 * header, key, then the value at an 8-byte aligned offset with spare room,
 * so replacing a value of the same or smaller size never allocates.
 *
 * Another backend adds an sl_ks_ops table and a line in ks_backends[]; the
 * front does the argument checks for all of them. */
#include "taskmanager/keyed_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/keyed_state_backend.h"

#define KS_MAX_LEN SL_KS_MAX_LEN

struct sl_keyed_state {
    const sl_ks_ops *ops;
    void *impl;
    int kg_start;
    int kg_end;
};

/* ---- hashmap backend ------------------------------------------------- */

typedef struct hm_entry {
    uint32_t klen;
    uint32_t vlen;
    uint32_t vcap;
    uint32_t pad;
    unsigned char data[]; /* key, padding to 8, value (vcap bytes) */
} hm_entry;

typedef struct hm_slot {
    uint64_t hash;
    hm_entry *e; /* NULL: empty */
} hm_slot;

typedef struct hm_table {
    hm_slot *slots; /* NULL until the group's first put */
    uint32_t mask;
    uint32_t count;
} hm_table;

typedef struct hm_state {
    hm_table *tables; /* one per key group, index kg - kg_start */
    int kg_start;
    int ngroups;
    size_t count;
} hm_state;

#define HM_MIN_SLOTS 8u

static uint64_t hm_mul_fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hm_rd64(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static uint64_t hm_rd32(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

/* Multiply-fold hash: 16 bytes per round, the last 1..16 bytes read as two
 * (possibly overlapping) words. */
static uint64_t hm_hash(const void *key, size_t n)
{
    const uint64_t k1 = UINT64_C(0x9e3779b97f4a7c15), k2 = UINT64_C(0xd6e8feb86659fd93);
    const uint64_t k3 = UINT64_C(0xa0761d6478bd642f);
    const unsigned char *p = key;
    uint64_t h = k3 ^ (n * k1), a = 0, b = 0;

    for (; n > 16; p += 16, n -= 16) {
        h = hm_mul_fold(hm_rd64(p) ^ k1, hm_rd64(p + 8) ^ h);
    }
    if (n >= 8) {
        a = hm_rd64(p);
        b = hm_rd64(p + n - 8);
    } else if (n >= 4) {
        a = hm_rd32(p);
        b = hm_rd32(p + n - 4);
    } else if (n > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
    }
    return hm_mul_fold(hm_mul_fold(a ^ k1, b ^ h ^ k2), h ^ k3);
}

static size_t hm_voff(uint32_t klen)
{
    return ((size_t)klen + 7) & ~(size_t)7;
}

static unsigned char *hm_val(hm_entry *e)
{
    return e->data + hm_voff(e->klen);
}

/* Room for a value of vlen: rounded up to 8, at least half again the old
 * capacity when a value grows. */
static uint32_t hm_vcap(size_t vlen, uint32_t old)
{
    size_t want = vlen;

    if (old > 0 && want < (size_t)old + old / 2) {
        want = (size_t)old + old / 2;
    }
    want = (want + 7) & ~(size_t)7;
    return (uint32_t)(want < 2 * (size_t)KS_MAX_LEN ? want : 2 * (size_t)KS_MAX_LEN);
}

static hm_entry *hm_entry_new(const void *key, size_t klen, const void *val, size_t vlen)
{
    uint32_t vcap = hm_vcap(vlen, 0);
    hm_entry *e = malloc(sizeof(*e) + hm_voff((uint32_t)klen) + vcap);

    if (e == NULL) {
        return NULL;
    }
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->vcap = vcap;
    e->pad = 0;
    if (klen > 0) {
        memcpy(e->data, key, klen);
    }
    if (vlen > 0) {
        memcpy(hm_val(e), val, vlen);
    }
    return e;
}

/* Index of the slot holding key, or of the empty slot ending its probe. */
static uint32_t hm_probe(const hm_table *t, uint64_t h, const void *key, size_t klen)
{
    uint32_t i = (uint32_t)h & t->mask;

    for (;; i = (i + 1) & t->mask) {
        const hm_slot *s = &t->slots[i];
        if (s->e == NULL || (s->hash == h && s->e->klen == klen &&
                             (klen == 0 || memcmp(s->e->data, key, klen) == 0))) {
            return i;
        }
    }
}

static int hm_resize(hm_table *t, uint32_t nslots)
{
    hm_slot *old = t->slots;
    uint32_t oldn = old != NULL ? t->mask + 1 : 0;
    hm_slot *ns = calloc(nslots, sizeof(*ns));

    if (ns == NULL) {
        return SL_ENOMEM;
    }
    t->slots = ns;
    t->mask = nslots - 1;
    for (uint32_t i = 0; i < oldn; i++) {
        if (old[i].e != NULL) {
            uint32_t j = (uint32_t)old[i].hash & t->mask;
            while (ns[j].e != NULL) {
                j = (j + 1) & t->mask;
            }
            ns[j] = old[i];
        }
    }
    free(old);
    return SL_OK;
}

/* Makes room for one more entry, keeping the table at most 3/4 full. */
static int hm_reserve(hm_table *t)
{
    uint32_t n = t->slots != NULL ? t->mask + 1 : 0;

    if (n == 0) {
        return hm_resize(t, HM_MIN_SLOTS);
    }
    if ((uint64_t)(t->count + 1) * 4 <= (uint64_t)n * 3) {
        return SL_OK;
    }
    if (n >= (1u << 31)) {
        return SL_ENOSPC;
    }
    return hm_resize(t, n * 2);
}

/* Room for n more entries at once, at most 3/4 full. Entries restored in
 * the slot order of a table of the same size then land in order; growing
 * step by step while they arrive in that order builds long probe runs. */
static int hm_presize(void *impl, int kg, uint64_t n)
{
    hm_table *t = &((hm_state *)impl)->tables[kg - ((hm_state *)impl)->kg_start];
    uint64_t want = (uint64_t)t->count + n, have = t->slots != NULL ? t->mask + 1 : 0;
    uint64_t slots = HM_MIN_SLOTS;

    while (want * 4 > slots * 3 && slots < (UINT64_C(1) << 31))
        slots *= 2;
    if (want * 4 > slots * 3)
        return SL_ENOSPC;
    return slots > have ? hm_resize(t, (uint32_t)slots) : SL_OK;
}

static hm_table *hm_table_of(hm_state *hm, int kg)
{
    return &hm->tables[kg - hm->kg_start];
}

static int hm_open(int kg_start, int kg_end, const char *dir, void **impl)
{
    hm_state *hm = calloc(1, sizeof(*hm));

    (void)dir;
    if (hm == NULL) {
        return SL_ENOMEM;
    }
    hm->kg_start = kg_start;
    hm->ngroups = kg_end - kg_start + 1;
    hm->tables = calloc((size_t)hm->ngroups, sizeof(*hm->tables));
    if (hm->tables == NULL) {
        free(hm);
        return SL_ENOMEM;
    }
    *impl = hm;
    return SL_OK;
}

static void hm_close(void *impl)
{
    hm_state *hm = impl;

    for (int g = 0; g < hm->ngroups; g++) {
        hm_table *t = &hm->tables[g];
        for (uint32_t i = 0; t->slots != NULL && i <= t->mask; i++) {
            free(t->slots[i].e);
        }
        free(t->slots);
    }
    free(hm->tables);
    free(hm);
}

static int hm_get(void *impl, int kg, const void *key, size_t klen, const void **val,
                  size_t *vlen)
{
    hm_table *t = hm_table_of(impl, kg);
    hm_entry *e;

    if (t->slots == NULL) {
        return SL_ENOTFOUND;
    }
    e = t->slots[hm_probe(t, hm_hash(key, klen), key, klen)].e;
    if (e == NULL) {
        return SL_ENOTFOUND;
    }
    if (val != NULL) {
        *val = hm_val(e);
    }
    if (vlen != NULL) {
        *vlen = e->vlen;
    }
    return SL_OK;
}

/* Replaces the value of an existing entry, in place when it fits. */
static int hm_replace(hm_slot *s, const void *val, size_t vlen)
{
    hm_entry *e = s->e;

    if (vlen > e->vcap) {
        uint32_t vcap = hm_vcap(vlen, e->vcap);
        hm_entry *ne = realloc(e, sizeof(*e) + hm_voff(e->klen) + vcap);
        if (ne == NULL) {
            return SL_ENOMEM;
        }
        ne->vcap = vcap;
        s->e = e = ne;
    }
    if (vlen > 0) {
        memmove(hm_val(e), val, vlen);
    }
    e->vlen = (uint32_t)vlen;
    return SL_OK;
}

static int hm_put(void *impl, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    hm_state *hm = impl;
    hm_table *t = hm_table_of(hm, kg);
    uint64_t h = hm_hash(key, klen);
    uint32_t mask_before = t->slots != NULL ? t->mask : 0;
    hm_entry *e;
    uint32_t i = 0;
    int rv;

    if (t->slots != NULL) {
        i = hm_probe(t, h, key, klen);
        if (t->slots[i].e != NULL) {
            return hm_replace(&t->slots[i], val, vlen);
        }
    }
    if ((e = hm_entry_new(key, klen, val, vlen)) == NULL) {
        return SL_ENOMEM;
    }
    if ((rv = hm_reserve(t)) != SL_OK) {
        free(e);
        return rv;
    }
    if (t->mask != mask_before) { /* resized: find the empty slot again */
        i = hm_probe(t, h, key, klen);
    }
    t->slots[i].hash = h;
    t->slots[i].e = e;
    t->count++;
    hm->count++;
    return SL_OK;
}

/* Empties slot i, shifting back later members of its probe run whose home
 * slot does not lie cyclically in (i, j]. */
static void hm_unlink(hm_table *t, uint32_t i)
{
    uint32_t j = i;

    for (;;) {
        uint32_t home;
        j = (j + 1) & t->mask;
        if (t->slots[j].e == NULL) {
            break;
        }
        home = (uint32_t)t->slots[j].hash & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].e = NULL;
    t->slots[i].hash = 0;
}

static int hm_del(void *impl, int kg, const void *key, size_t klen)
{
    hm_state *hm = impl;
    hm_table *t = hm_table_of(hm, kg);
    uint32_t i;

    if (t->slots == NULL) {
        return SL_ENOTFOUND;
    }
    i = hm_probe(t, hm_hash(key, klen), key, klen);
    if (t->slots[i].e == NULL) {
        return SL_ENOTFOUND;
    }
    free(t->slots[i].e);
    hm_unlink(t, i);
    t->count--;
    hm->count--;
    return SL_OK;
}

static size_t hm_count(const void *impl)
{
    return ((const hm_state *)impl)->count;
}

static int hm_visit(void *impl, int kg, sl_keyed_state_visit_fn fn, void *arg)
{
    hm_table *t = hm_table_of(impl, kg);
    int rv;

    for (uint32_t i = 0; t->slots != NULL && i <= t->mask; i++) {
        hm_entry *e = t->slots[i].e;
        if (e != NULL && (rv = fn(arg, kg, e->data, e->klen, hm_val(e), e->vlen)) != 0) {
            return rv;
        }
    }
    return SL_OK;
}

/* The view is the live state: consistent while nobody modifies it. */
static int hm_view_open(void *impl, void **view)
{
    *view = impl;
    return SL_OK;
}

static int hm_view_visit(void *view, int kg_lo, int kg_hi, sl_keyed_state_visit_fn fn, void *arg)
{
    int rv = SL_OK;

    for (int kg = kg_lo; kg <= kg_hi && rv == SL_OK; kg++) {
        rv = hm_visit(view, kg, fn, arg);
    }
    return rv;
}

static void hm_view_close(void *view)
{
    (void)view;
}

const sl_ks_ops sl_ks_hashmap_ops = {
    .name = "hashmap",
    .open = hm_open,
    .close = hm_close,
    .get = hm_get,
    .put = hm_put,
    .del = hm_del,
    .count = hm_count,
    .presize = hm_presize,
    .visit = hm_visit,
    .view_open = hm_view_open,
    .view_visit = hm_view_visit,
    .view_close = hm_view_close,
};

/* ---- front ----------------------------------------------------------- */

static const sl_ks_ops *const ks_backends[] = {&sl_ks_hashmap_ops, &sl_ks_leveldb_ops};

/* Same bound as Flink's UPPER_BOUND_MAX_PARALLELISM. */
#define KS_MAX_KEY_GROUPS 32768

int sl_keyed_state_open(const char *backend, int kg_start, int kg_end, const char *dir,
                        sl_keyed_state **out)
{
    const sl_ks_ops *ops = NULL;
    sl_keyed_state *st;
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
    if ((rv = ops->open(kg_start, kg_end, dir, &st->impl)) != SL_OK) {
        free(st);
        return rv;
    }
    st->ops = ops;
    st->kg_start = kg_start;
    st->kg_end = kg_end;
    *out = st;
    return SL_OK;
}

void sl_keyed_state_close(sl_keyed_state *st)
{
    if (st == NULL) {
        return;
    }
    st->ops->close(st->impl);
    free(st);
}

static int ks_check(const sl_keyed_state *st, int kg, const void *key, size_t klen)
{
    if (st == NULL || kg < st->kg_start || kg > st->kg_end || klen > KS_MAX_LEN ||
        (key == NULL && klen > 0)) {
        return SL_EINVAL;
    }
    return SL_OK;
}

int sl_keyed_state_get(sl_keyed_state *st, int kg, const void *key, size_t klen,
                       const void **val, size_t *vlen)
{
    int rv = ks_check(st, kg, key, klen);
    return rv != SL_OK ? rv : st->ops->get(st->impl, kg, key, klen, val, vlen);
}

int sl_keyed_state_put(sl_keyed_state *st, int kg, const void *key, size_t klen, const void *val,
                       size_t vlen)
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

int sl_keyed_state_presize(sl_keyed_state *st, int kg, uint64_t n)
{
    if (st == NULL || kg < st->kg_start || kg > st->kg_end)
        return SL_EINVAL;
    return st->ops->presize != NULL ? st->ops->presize(st->impl, kg, n) : SL_OK;
}

int sl_keyed_state_delete(sl_keyed_state *st, int kg, const void *key, size_t klen)
{
    int rv = ks_check(st, kg, key, klen);
    return rv != SL_OK ? rv : st->ops->del(st->impl, kg, key, klen);
}

size_t sl_keyed_state_count(const sl_keyed_state *st)
{
    return st != NULL ? st->ops->count(st->impl) : 0;
}

int sl_keyed_state_visit_group(sl_keyed_state *st, int kg, sl_keyed_state_visit_fn fn, void *arg)
{
    if (st == NULL || fn == NULL || kg < st->kg_start || kg > st->kg_end) {
        return SL_EINVAL;
    }
    return st->ops->visit(st->impl, kg, fn, arg);
}

/* ---- snapshot views -------------------------------------------------- */

struct sl_ks_view {
    const sl_keyed_state *st;
    void *impl;
};

int sl_ks_view_open(sl_keyed_state *st, sl_ks_view **out)
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
    v->st = st;
    *out = v;
    return SL_OK;
}

int sl_ks_view_visit(sl_ks_view *v, int kg_lo, int kg_hi, sl_keyed_state_visit_fn fn, void *arg)
{
    if (v == NULL || fn == NULL) {
        return SL_EINVAL;
    }
    if (kg_lo < v->st->kg_start) {
        kg_lo = v->st->kg_start;
    }
    if (kg_hi > v->st->kg_end) {
        kg_hi = v->st->kg_end;
    }
    if (kg_lo > kg_hi) {
        return SL_OK;
    }
    return v->st->ops->view_visit(v->impl, kg_lo, kg_hi, fn, arg);
}

void sl_ks_view_close(sl_ks_view *v)
{
    if (v == NULL) {
        return;
    }
    v->st->ops->view_close(v->impl);
    free(v);
}
