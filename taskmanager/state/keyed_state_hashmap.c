/* The "hashmap" keyed state backend: in memory, with copy-on-write
 * snapshot views that another thread can write while the task goes on.
 *
 * Tables. One open-addressing table per key group of the subtask, so
 * visiting a key group walks only that group's slots (and dropping or
 * snapshotting a group never touches the others). Each table uses linear
 * probing with backward-shift deletion (no tombstones), stores the full
 * 64-bit hash next to the entry pointer so probes rarely touch entries,
 * and doubles when it would pass 3/4 full. An entry is header, key, then
 * the value at an 8-byte aligned offset with spare room, so replacing a
 * value of the same or smaller size never allocates.
 *
 * Entry memory. A put allocates its entry on its own (malloc). A restore
 * (put_restored, batches of a key group's entries) packs the group's new
 * entries into a few blocks instead: bump allocation from a block sized
 * for the entries still to come, but never larger than the restore's
 * earlier blocks of the group together (at least 16 KiB) nor than 2 MiB,
 * so a wrong guess wastes at most about half. Block entries carry
 * SL_HASHMAP_IN_BLOCK in klen; each table keeps its blocks sorted by address, and
 * a block counts its entries not yet freed. Freeing a block entry (delete,
 * replace by a new entry, reaping a retired one, close) finds its block by
 * binary search and frees the block with its last entry, so a block lives
 * as long as any of its entries. A block entry is rewritten in place like
 * any other; a value outgrowing it moves to a malloc'd entry. Restored
 * entries above 4 KiB are malloc'd.
 *
 * Snapshot views (the idea of Flink's CopyOnWriteStateMap). The state has a
 * version, raised when a view opens; every entry carries the version it
 * was written at. Opening a view copies the entry pointers of every group
 * into one array (a sequential pass over the slots; no entry is copied).
 * While the view is open, an entry older than the view is never written,
 * moved or freed: a put on it writes a fresh copy into the table, a delete
 * unlinks it, and the old entry goes to the retired list (still counted
 * by its block). The view, read by the uploader thread, thus sees exactly
 * the entries of the moment it opened. When the reader closes the view it
 * only raises a flag; the task thread frees the retired entries at its
 * next put or delete (or the next view). Only one view is open at a time:
 * view_open answers SL_EBUSY while one is, and the caller writes that
 * snapshot synchronously instead.
 *
 * Lifetime. The state and an open view each hold a reference; whichever
 * lets go last frees everything, so a task may close its state (it ended,
 * or stopped with a savepoint) while the uploader still writes the view. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state_hashmap.h"
#include "taskmanager/state/keyed_state_hashmap_internal.h"

struct hm_state;

/* A snapshot view: the entries of group g are hm->ents[hm->off[g] ..
 * hm->off[g+1]), which the task leaves alone while the view is open.
 * Lives inside the state (one view at a time), so opening one allocates
 * nothing once the arrays have their size. */
typedef struct hm_view {
    struct hm_state *hm;
    atomic_int done; /* set by view_close (any thread) */
} hm_view;

/* An entry kept for an open view, with the table whose blocks may hold it. */
typedef struct hm_retired {
    sl_hashmap_entry *e;
    sl_hashmap_table *t;
} hm_retired;

typedef struct hm_state {
    sl_hashmap_table *tables; /* one per key group, index kg - kg_start */
    int kg_start;
    int ngroups;
    size_t count;
    uint32_t ver;     /* raised by every view_open */
    hm_view *view;    /* &view_store while open or closed but not yet
                       * reaped; NULL if none */
    hm_view view_store;
    size_t *off;      /* the views' group offsets (ngroups + 1) */
    sl_hashmap_entry **ents; /* the views' pointer array, kept for the next view */
    size_t ents_cap;
    hm_retired *retired; /* old entries replaced or deleted while a view is open */
    size_t nretired, retired_cap;
    atomic_int refs;  /* the state itself, plus an open view */
} hm_state;

#define HM_MIN_SLOTS 8u
#define HM_PAGE_BYTES 4096u /* hm_touch writes once per page */

static sl_hashmap_entry *hm_entry_new(const void *key, size_t klen, const void *val, size_t vlen,
                                      uint32_t old_cap, uint32_t ver)
{
    uint32_t vcap = sl_hashmap_vcap(vlen, old_cap);
    sl_hashmap_entry *e = malloc(sizeof(*e) + sl_hashmap_voff((uint32_t)klen) + vcap);

    return e != NULL ? sl_hashmap_entry_fill(e, 0, key, klen, val, vlen, vcap, ver) : NULL;
}

/* ---- views: retiring and reaping ------------------------------------ */

/* 1 if an open view may still read e (e is older than the view). */
static int hm_shared(const hm_state *hm, const sl_hashmap_entry *e)
{
    return hm->view != NULL && e->ver != hm->ver;
}

static void hm_free_retired(hm_state *hm)
{
    for (size_t i = 0; i < hm->nretired; i++) {
        sl_hashmap_entry_free(hm->retired[i].t, hm->retired[i].e);
    }
    hm->nretired = 0;
}

/* Frees what a closed view kept alive. Task thread, while it holds the
 * state's reference. */
static void hm_reap(hm_state *hm)
{
    hm_view *v = hm->view;

    if (v == NULL || !atomic_load_explicit(&v->done, memory_order_acquire)) {
        return;
    }
    hm_free_retired(hm);
    hm->view = NULL;
}

/* Called before a put or delete: reaps a closed view, and while one is
 * open makes sure one more entry can be retired without failing. */
static int hm_prepare_write(hm_state *hm)
{
    if (hm->view == NULL) {
        return SL_OK; /* nothing to reap, nothing to retire */
    }
    hm_reap(hm);
    if (hm->view == NULL || hm->nretired < hm->retired_cap) {
        return SL_OK;
    }
    size_t cap = hm->retired_cap ? hm->retired_cap * 2 : 1024;
    hm_retired *r = realloc(hm->retired, cap * sizeof(*r));
    if (r == NULL) {
        return SL_ENOMEM;
    }
    hm->retired = r;
    hm->retired_cap = cap;
    return SL_OK;
}

/* Frees e (an entry of table t) now, or keeps it for the open view that
 * may read it. Room was made by hm_prepare_write. */
static void hm_drop(hm_state *hm, sl_hashmap_table *t, sl_hashmap_entry *e)
{
    if (hm_shared(hm, e)) {
        hm->retired[hm->nretired].e = e;
        hm->retired[hm->nretired].t = t;
        hm->nretired++;
    } else {
        sl_hashmap_entry_free(t, e);
    }
}

/* ---- tables ---------------------------------------------------------- */

/* Index of the slot holding key, or of the empty slot ending its probe. */
static inline uint32_t hm_probe(const sl_hashmap_table *t, uint64_t h, const void *key, size_t klen)
{
    uint32_t i = (uint32_t)h & t->mask;

    for (;; i = (i + 1) & t->mask) {
        const sl_hashmap_slot *s = &t->slots[i];
        if (s->e == NULL || (s->hash == h && sl_hashmap_klen(s->e) == klen &&
                             (klen == 0 || memcmp(s->e->data, key, klen) == 0))) {
            return i;
        }
    }
}

/* Writes to every page of a big new slot array, so that the probes of
 * the inserts to come do not map the zero page first, then copy it. */
static void hm_touch(sl_hashmap_slot *s, uint32_t nslots)
{
    volatile sl_hashmap_slot *v = s;
    const uint32_t step = HM_PAGE_BYTES / sizeof(*s);

    for (uint32_t i = 0; nslots >= 4 * step && i < nslots; i += step) {
        v[i].e = NULL;
    }
}

static int hm_resize(sl_hashmap_table *t, uint32_t nslots)
{
    sl_hashmap_slot *old = t->slots;
    uint32_t oldn = old != NULL ? t->mask + 1 : 0;
    sl_hashmap_slot *ns = calloc(nslots, sizeof(*ns));

    if (ns == NULL) {
        return SL_ENOMEM;
    }
    hm_touch(ns, nslots);
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
static int hm_reserve(sl_hashmap_table *t)
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
    sl_hashmap_table *t = &((hm_state *)impl)->tables[kg - ((hm_state *)impl)->kg_start];
    uint64_t want = (uint64_t)t->count + n, have = t->slots != NULL ? t->mask + 1 : 0;
    uint64_t slots = HM_MIN_SLOTS;

    while (want * 4 > slots * 3 && slots < (UINT64_C(1) << 31))
        slots *= 2;
    if (want * 4 > slots * 3)
        return SL_ENOSPC;
    return slots > have ? hm_resize(t, (uint32_t)slots) : SL_OK;
}

static sl_hashmap_table *hm_table_of(hm_state *hm, int kg)
{
    return &hm->tables[kg - hm->kg_start];
}

static int hm_open(int kg_start, int kg_end, const char *dir, const struct sl_kcache_budget *budget,
                   void **impl)
{
    hm_state *hm = calloc(1, sizeof(*hm));

    (void)dir, (void)budget;
    if (hm == NULL) {
        return SL_ENOMEM;
    }
    hm->kg_start = kg_start;
    hm->ngroups = kg_end - kg_start + 1;
    hm->ver = 1;
    atomic_init(&hm->refs, 1);
    hm->tables = calloc((size_t)hm->ngroups, sizeof(*hm->tables));
    hm->off = malloc(((size_t)hm->ngroups + 1) * sizeof(*hm->off));
    if (hm->tables == NULL || hm->off == NULL) {
        free(hm->tables);
        free(hm->off);
        free(hm);
        return SL_ENOMEM;
    }
    *impl = hm;
    return SL_OK;
}

/* Frees a table's entries (the malloc'd ones; blocks go whole), blocks
 * and slots. */
static void hm_table_free(sl_hashmap_table *t)
{
    for (uint32_t i = 0; t->slots != NULL && i <= t->mask; i++) {
        sl_hashmap_entry *e = t->slots[i].e;
        if (e != NULL && !(e->klen & SL_HASHMAP_IN_BLOCK)) {
            free(e);
        }
    }
    sl_hashmap_blocks_free(t);
    free(t->slots);
}

static void hm_free_all(hm_state *hm)
{
    hm_free_retired(hm); /* first: they may lie in the tables' blocks */
    for (int g = 0; g < hm->ngroups; g++) {
        hm_table_free(&hm->tables[g]);
    }
    free(hm->off);
    free(hm->retired);
    free(hm->ents);
    free(hm->tables);
    free(hm);
}

/* Drops one reference; the last frees everything. */
static void hm_unref(hm_state *hm)
{
    if (atomic_fetch_sub_explicit(&hm->refs, 1, memory_order_acq_rel) == 1) {
        hm_free_all(hm);
    }
}

static void hm_close(void *impl)
{
    hm_unref(impl);
}

static int hm_get(void *impl, int kg, const void *key, size_t klen, const void **val,
                  size_t *vlen)
{
    sl_hashmap_table *t = hm_table_of(impl, kg);
    sl_hashmap_entry *e;

    if (t->slots == NULL) {
        return SL_ENOTFOUND;
    }
    e = t->slots[hm_probe(t, sl_hash_bytes(key, klen), key, klen)].e;
    if (e == NULL) {
        return SL_ENOTFOUND;
    }
    if (val != NULL) {
        *val = sl_hashmap_val(e);
    }
    if (vlen != NULL) {
        *vlen = e->vlen;
    }
    return SL_OK;
}

/* Replaces the value of an existing entry of table t: in place when it
 * fits and no open view can see the entry, else in a new (malloc'd)
 * entry. */
static int hm_replace(hm_state *hm, sl_hashmap_table *t, sl_hashmap_slot *s, const void *val,
                      size_t vlen)
{
    sl_hashmap_entry *e = s->e;

    if (hm_shared(hm, e) || vlen > e->vcap) {
        sl_hashmap_entry *ne =
            hm_entry_new(e->data, sl_hashmap_klen(e), val, vlen, e->vcap, hm->ver);
        if (ne == NULL) {
            return SL_ENOMEM;
        }
        s->e = ne;
        hm_drop(hm, t, e);
        return SL_OK;
    }
    if (vlen > 0) {
        memmove(sl_hashmap_val(e), val, vlen);
    }
    e->vlen = (uint32_t)vlen;
    return SL_OK;
}

/* A new entry for table t: malloc'd for a put (r == NULL), from the
 * group's blocks for a restore. */
static inline sl_hashmap_entry *hm_entry_make(hm_state *hm, sl_hashmap_table *t, const void *key,
                                              size_t klen, const void *val, size_t vlen,
                                              const sl_hashmap_restore *r)
{
    uint32_t vcap = sl_hashmap_vcap(vlen, 0);
    size_t sz = sizeof(sl_hashmap_entry) + sl_hashmap_voff((uint32_t)klen) + vcap;
    sl_hashmap_entry *e;

    if (r == NULL || sz > SL_HASHMAP_BLOCK_ENTRY_MAX) {
        return hm_entry_new(key, klen, val, vlen, 0, hm->ver);
    }
    e = sl_hashmap_block_alloc(t, sz, r);
    return e != NULL
               ? sl_hashmap_entry_fill(e, SL_HASHMAP_IN_BLOCK, key, klen, val, vlen, vcap, hm->ver)
               : NULL;
}

/* Inserts or replaces key (hash h) in table t; a new entry is made as
 * hm_entry_make says for r. */
static inline int hm_insert(hm_state *hm, sl_hashmap_table *t, uint64_t h, const void *key,
                            size_t klen, const void *val, size_t vlen, const sl_hashmap_restore *r)
{
    uint32_t mask_before = t->slots != NULL ? t->mask : 0;
    sl_hashmap_entry *e;
    uint32_t i = 0;
    int rv;

    if ((rv = hm_prepare_write(hm)) != SL_OK) {
        return rv;
    }
    if (t->slots != NULL) {
        i = hm_probe(t, h, key, klen);
        if (t->slots[i].e != NULL) {
            return hm_replace(hm, t, &t->slots[i], val, vlen);
        }
    }
    if ((e = hm_entry_make(hm, t, key, klen, val, vlen, r)) == NULL) {
        return SL_ENOMEM;
    }
    if ((rv = hm_reserve(t)) != SL_OK) {
        sl_hashmap_entry_free(t, e);
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

static int hm_put(void *impl, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    hm_state *hm = impl;

    return hm_insert(hm, hm_table_of(hm, kg), sl_hash_bytes(key, klen), key, klen, val, vlen, NULL);
}

/* Puts the pairs of r in the common case: no view is open and the table
 * has room for all of them, so neither retiring nor resizing can happen.
 * A key already there (a duplicate) is replaced as by a put. */
static int hm_restore_fast(hm_state *hm, sl_hashmap_table *t, sl_hashmap_restore *r)
{
    for (r->k = 0; r->k < r->n; r->k++) {
        const sl_ks_pair *p = &r->p[r->k];
        uint64_t h = sl_hash_bytes(p->key, p->klen);
        uint32_t i = hm_probe(t, h, p->key, p->klen);
        sl_hashmap_entry *e;

        if (t->slots[i].e != NULL) {
            int rv = hm_replace(hm, t, &t->slots[i], p->val, p->vlen);
            if (rv != SL_OK) {
                return rv;
            }
            continue;
        }
        if ((e = hm_entry_make(hm, t, p->key, p->klen, p->val, p->vlen, r)) == NULL) {
            return SL_ENOMEM;
        }
        t->slots[i].hash = h;
        t->slots[i].e = e;
        t->count++;
        hm->count++;
    }
    return SL_OK;
}

/* A batch of a group's restored pairs: new entries go to the group's
 * blocks. After the group's last batch its next restore starts new
 * blocks. */
static int hm_put_restored(void *impl, int kg, const sl_ks_pair *p, size_t n, uint64_t more)
{
    hm_state *hm = impl;
    sl_hashmap_table *t = hm_table_of(hm, kg);
    sl_hashmap_restore r = {.p = p, .n = n, .k = 0, .more = more};
    int rv = SL_OK;

    if (hm->view == NULL && t->slots != NULL &&
        ((uint64_t)t->count + n) * 4 <= ((uint64_t)t->mask + 1) * 3) {
        rv = hm_restore_fast(hm, t, &r);
    } else {
        for (; r.k < n && rv == SL_OK; r.k++) {
            rv = hm_insert(hm, t, sl_hash_bytes(p[r.k].key, p[r.k].klen), p[r.k].key, p[r.k].klen,
                           p[r.k].val, p[r.k].vlen, &r);
        }
    }
    if (more == 0) {
        sl_hashmap_block_finish(t);
    }
    return rv;
}

/* Empties slot i, shifting back later members of its probe run whose home
 * slot does not lie cyclically in (i, j]. */
static void hm_unlink(sl_hashmap_table *t, uint32_t i)
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
    sl_hashmap_table *t = hm_table_of(hm, kg);
    uint32_t i;
    int rv;

    if (t->slots == NULL) {
        return SL_ENOTFOUND;
    }
    i = hm_probe(t, sl_hash_bytes(key, klen), key, klen);
    if (t->slots[i].e == NULL) {
        return SL_ENOTFOUND;
    }
    if ((rv = hm_prepare_write(hm)) != SL_OK) {
        return rv;
    }
    hm_drop(hm, t, t->slots[i].e);
    hm_unlink(t, i);
    t->count--;
    hm->count--;
    return SL_OK;
}

static size_t hm_count(const void *impl)
{
    return ((const hm_state *)impl)->count;
}

static int hm_visit(void *impl, int kg, sl_ks_visit_fn fn, void *arg)
{
    sl_hashmap_table *t = hm_table_of(impl, kg);
    int rv;

    for (uint32_t i = 0; t->slots != NULL && i <= t->mask; i++) {
        sl_hashmap_entry *e = t->slots[i].e;
        if (e != NULL &&
            (rv = fn(arg, kg, e->data, sl_hashmap_klen(e), sl_hashmap_val(e), e->vlen)) != 0) {
            return rv;
        }
    }
    return SL_OK;
}

/* ---- snapshot views -------------------------------------------------- */

/* Copies the entry pointers of every group into hm->ents (grown if need
 * be, kept for the next view), without a branch per slot: every slot's
 * pointer is stored, and the position moves on only past a full one. */
static int hm_collect(hm_state *hm, size_t *off)
{
    if (hm->count + 1 > hm->ents_cap) {
        size_t cap = hm->count + hm->count / 4 + 16;
        sl_hashmap_entry **p = realloc(hm->ents, cap * sizeof(*p));
        if (p == NULL) {
            return SL_ENOMEM;
        }
        hm->ents = p;
        hm->ents_cap = cap;
    }
    size_t n = 0;
    for (int g = 0; g < hm->ngroups; g++) {
        const sl_hashmap_table *t = &hm->tables[g];
        off[g] = n;
        for (uint32_t i = 0; t->slots != NULL && i <= t->mask; i++) {
            sl_hashmap_entry *e = t->slots[i].e;
            hm->ents[n] = e; /* n <= count: in bounds */
            n += e != NULL;
        }
    }
    off[hm->ngroups] = n;
    return SL_OK;
}

static int hm_view_open(void *impl, void **view)
{
    hm_state *hm = impl;
    hm_view *v;

    hm_reap(hm);
    if (hm->view != NULL) {
        return SL_EBUSY;
    }
    if (hm_collect(hm, hm->off) != SL_OK) {
        return SL_ENOMEM;
    }
    v = &hm->view_store;
    v->hm = hm;
    atomic_init(&v->done, 0);
    hm->ver++;
    hm->view = v;
    atomic_fetch_add_explicit(&hm->refs, 1, memory_order_relaxed);
    *view = v;
    return SL_OK;
}

/* Any thread: reads only entries older than the view, which nobody
 * writes or frees while it is open. */
static int hm_view_visit(void *view, int kg_lo, int kg_hi, sl_ks_visit_fn fn, void *arg)
{
    const hm_state *hm = ((hm_view *)view)->hm;
    sl_hashmap_entry *const *ents = hm->ents;

    for (int kg = kg_lo; kg <= kg_hi; kg++) {
        size_t lo = hm->off[kg - hm->kg_start], hi = hm->off[kg - hm->kg_start + 1];
        for (size_t i = lo; i < hi; i++) {
            sl_hashmap_entry *e = ents[i];
            if (i + 8 < hi) {
                __builtin_prefetch(ents[i + 8]);
            }
            int rv = fn(arg, kg, e->data, sl_hashmap_klen(e), sl_hashmap_val(e), e->vlen);
            if (rv != 0) {
                return rv;
            }
        }
    }
    return SL_OK;
}

/* Any thread. The task thread frees what the view kept alive later. */
static void hm_view_close(void *view)
{
    hm_view *v = view;
    hm_state *hm = v->hm;

    atomic_store_explicit(&v->done, 1, memory_order_release);
    hm_unref(hm); /* v may be gone from here on */
}

const sl_ks_ops sl_hashmap_ops = {
    .name = "hashmap",
    .open = hm_open,
    .close = hm_close,
    .get = hm_get,
    .put = hm_put,
    .put_restored = hm_put_restored,
    .del = hm_del,
    .count = hm_count,
    .presize = hm_presize,
    .visit = hm_visit,
    .view_open = hm_view_open,
    .view_visit = hm_view_visit,
    .view_close = hm_view_close,
    .views_async = 1,
};
