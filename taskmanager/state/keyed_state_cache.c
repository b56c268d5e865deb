/* The write-back cache of keyed_state_cache.h.
 *
 * Entries are single allocations (header, key, value with spare room)
 * on two intrusive doubly linked lists: every entry on the LRU list (head
 * most recent), dirty ones also on the dirty list, so a flush touches only
 * what changed. The index is an open-addressing table of (hash, entry)
 * with linear probing and backward-shift deletion, kept at most 3/4 full. */
#include "taskmanager/state/keyed_state_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/status.h"

#define KC_PRESENT 1u
#define KC_DIRTY 2u
#define KC_STORED 4u /* the store may hold the key */
#define KC_MIN_SLOTS 64u
#define KC_ALLOC_OVERHEAD 16u /* what malloc adds to each block, roughly */

struct sl_kcache_entry {
    sl_kcache_entry *prev, *next;   /* LRU list */
    sl_kcache_entry *dprev, *dnext; /* dirty list (only while dirty) */
    uint64_t hash;
    uint32_t klen, vlen, vcap;
    uint32_t flags;
    unsigned char data[]; /* key, then vcap bytes of value */
};

typedef struct kc_slot {
    uint64_t hash;
    sl_kcache_entry *e; /* NULL: empty */
} kc_slot;

struct sl_kcache {
    kc_slot *slots;
    size_t mask, used;
    sl_kcache_entry *head, *tail; /* LRU list: head most recent */
    sl_kcache_entry *dirty;       /* dirty list head */
    size_t ndirty;
    size_t bytes, budget;
    sl_kcache_sink sink;
    uint64_t hits, misses, evictions, batches;
    int complete;
};

/* ---- sizes ------------------------------------------------------------ */

static size_t kc_charge(const sl_kcache_entry *e)
{
    return sizeof(*e) + e->klen + e->vcap + KC_ALLOC_OVERHEAD;
}

static const unsigned char *kc_val(const sl_kcache_entry *e)
{
    return e->data + e->klen;
}

/* ---- lists ----------------------------------------------------------- */

static void lru_unlink(sl_kcache *c, sl_kcache_entry *e)
{
    *(e->prev != NULL ? &e->prev->next : &c->head) = e->next;
    *(e->next != NULL ? &e->next->prev : &c->tail) = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(sl_kcache *c, sl_kcache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    *(c->head != NULL ? &c->head->prev : &c->tail) = e;
    c->head = e;
}

static void dirty_mark(sl_kcache *c, sl_kcache_entry *e)
{
    if (e->flags & KC_DIRTY) {
        return;
    }
    e->flags |= KC_DIRTY;
    e->dprev = NULL;
    e->dnext = c->dirty;
    if (c->dirty != NULL) {
        c->dirty->dprev = e;
    }
    c->dirty = e;
    c->ndirty++;
}

static void dirty_clear(sl_kcache *c, sl_kcache_entry *e)
{
    if (!(e->flags & KC_DIRTY)) {
        return;
    }
    *(e->dprev != NULL ? &e->dprev->dnext : &c->dirty) = e->dnext;
    if (e->dnext != NULL) {
        e->dnext->dprev = e->dprev;
    }
    e->dprev = e->dnext = NULL;
    e->flags &= ~KC_DIRTY;
    c->ndirty--;
}

/* ---- index ----------------------------------------------------------- */

/* Slot of key, or of the empty slot where it would go. */
static size_t kc_probe(const sl_kcache *c, uint64_t h, const void *key, size_t klen)
{
    size_t i = h & c->mask;

    for (;; i = (i + 1) & c->mask) {
        const sl_kcache_entry *e = c->slots[i].e;
        if (e == NULL || (c->slots[i].hash == h && e->klen == klen &&
                          (klen == 0 || memcmp(e->data, key, klen) == 0))) {
            return i;
        }
    }
}

static int kc_resize(sl_kcache *c, size_t nslots)
{
    kc_slot *old = c->slots, *ns = calloc(nslots, sizeof(*ns));
    size_t oldn = old != NULL ? c->mask + 1 : 0;

    if (ns == NULL) {
        return SL_ENOMEM;
    }
    c->slots = ns;
    c->mask = nslots - 1;
    for (size_t i = 0; i < oldn; i++) {
        if (old[i].e != NULL) {
            size_t j = old[i].hash & c->mask;
            while (ns[j].e != NULL) {
                j = (j + 1) & c->mask;
            }
            ns[j] = old[i];
        }
    }
    free(old);
    c->bytes += (nslots - oldn) * sizeof(kc_slot);
    return SL_OK;
}

/* Removes slot i, shifting back the entries that probed past it. */
static void kc_slot_remove(sl_kcache *c, size_t i)
{
    size_t j = i;

    for (;;) {
        j = (j + 1) & c->mask;
        if (c->slots[j].e == NULL) {
            break;
        }
        size_t home = c->slots[j].hash & c->mask;
        /* j's entry may move to i if its home is not in (i, j] cyclically */
        if (((j - home) & c->mask) >= ((j - i) & c->mask)) {
            c->slots[i] = c->slots[j];
            i = j;
        }
    }
    c->slots[i].e = NULL;
    c->slots[i].hash = 0;
    c->used--;
}

static size_t kc_slot_of(const sl_kcache *c, const sl_kcache_entry *e)
{
    size_t i = e->hash & c->mask;

    while (c->slots[i].e != e) {
        i = (i + 1) & c->mask;
    }
    return i;
}

/* ---- entries --------------------------------------------------------- */

static sl_kcache_entry *kc_entry_new(uint64_t h, const void *key, size_t klen, const void *val,
                                     size_t vlen)
{
    size_t vcap = (vlen + 7) & ~(size_t)7;
    sl_kcache_entry *e = malloc(sizeof(*e) + klen + vcap);

    if (e == NULL) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->vcap = (uint32_t)vcap;
    e->flags = val != NULL ? KC_PRESENT : 0;
    if (klen > 0) {
        memcpy(e->data, key, klen);
    }
    if (vlen > 0 && val != NULL) {
        memcpy(e->data + klen, val, vlen);
    }
    return e;
}

/* Unlinks e from everything and frees it. */
static void kc_entry_drop(sl_kcache *c, sl_kcache_entry *e)
{
    kc_slot_remove(c, kc_slot_of(c, e));
    lru_unlink(c, e);
    dirty_clear(c, e);
    c->bytes -= kc_charge(e);
    free(e);
}

/* Links a new entry e into slot i (found by kc_probe) and the lists. */
static void kc_entry_link(sl_kcache *c, size_t i, sl_kcache_entry *e, unsigned flags)
{
    c->slots[i].hash = e->hash;
    c->slots[i].e = e;
    c->used++;
    lru_push_head(c, e);
    e->flags |= flags & SL_KCACHE_IN_STORE ? KC_STORED : 0;
    if (flags & SL_KCACHE_DIRTY) {
        dirty_mark(c, e);
    }
    c->bytes += kc_charge(e);
}

/* Sets e's value in place (it fits); dirty and stored add to its flags. */
static void kc_entry_set(sl_kcache *c, sl_kcache_entry *e, const void *val, size_t vlen,
                         unsigned flags)
{
    if (val != NULL && vlen > 0) {
        memmove(e->data + e->klen, val, vlen);
    }
    e->vlen = val != NULL ? (uint32_t)vlen : 0;
    e->flags = (e->flags & ~KC_PRESENT) | (val != NULL ? KC_PRESENT : 0);
    e->flags |= flags & SL_KCACHE_IN_STORE ? KC_STORED : 0;
    if (flags & SL_KCACHE_DIRTY) {
        dirty_mark(c, e);
    }
}

/* ---- eviction -------------------------------------------------------- */

/* Sends the dirty entries among the n least recently used to the sink. */
static int kc_write_victims(sl_kcache *c, size_t n)
{
    sl_kcache_entry *e = c->tail;
    int rv = SL_OK, dirty = 0;

    for (size_t k = 0; k < n; k++, e = e->prev) {
        if (!(e->flags & KC_DIRTY)) {
            continue;
        }
        dirty = 1;
        if (rv == SL_OK) {
            rv = c->sink.put(c->sink.arg, e->data, e->klen,
                             (e->flags & KC_PRESENT) ? kc_val(e) : NULL, e->vlen);
        }
    }
    if (!dirty) {
        return SL_OK;
    }
    int crv = c->sink.commit(c->sink.arg);
    c->batches++;
    return rv != SL_OK ? rv : crv;
}

/* Evicts least recently used entries (never keep) to 7/8 of the budget. */
static int kc_evict(sl_kcache *c, const sl_kcache_entry *keep)
{
    size_t target = c->budget - c->budget / 8, freed = 0, n = 0;
    int rv;

    if (c->bytes <= c->budget) {
        return SL_OK;
    }
    for (sl_kcache_entry *e = c->tail; e != NULL && e != keep && c->bytes - freed > target;
         e = e->prev) {
        freed += kc_charge(e);
        n++;
    }
    if ((rv = kc_write_victims(c, n)) != SL_OK) {
        return rv;
    }
    for (; n > 0; n--) {
        c->complete &= !(c->tail->flags & KC_PRESENT);
        kc_entry_drop(c, c->tail);
        c->evictions++;
    }
    return SL_OK;
}

/* ---- API ------------------------------------------------------------- */

int sl_kcache_new(size_t budget, const sl_kcache_sink *sink, sl_kcache **out)
{
    sl_kcache *c;

    if (sink == NULL || sink->put == NULL || sink->commit == NULL || out == NULL) {
        return SL_EINVAL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        return SL_ENOMEM;
    }
    c->budget = budget < SL_KCACHE_MIN_BUDGET ? SL_KCACHE_MIN_BUDGET : budget;
    c->sink = *sink;
    c->complete = 1;
    if (kc_resize(c, KC_MIN_SLOTS) != SL_OK) {
        free(c);
        return SL_ENOMEM;
    }
    *out = c;
    return SL_OK;
}

void sl_kcache_free(sl_kcache *c)
{
    if (c == NULL) {
        return;
    }
    for (sl_kcache_entry *e = c->head, *next; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    free(c->slots);
    free(c);
}

/* 1 if key is the most recently used entry's: an operator's get, then
 * put, of one key finds it without hashing. */
static int kc_is_head(const sl_kcache *c, const void *key, size_t klen)
{
    const sl_kcache_entry *e = c->head;
    return e != NULL && e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

int sl_kcache_lookup(sl_kcache *c, const void *key, size_t klen, sl_kcache_entry **out)
{
    uint64_t h;
    sl_kcache_entry *e;

    if (kc_is_head(c, key, klen)) {
        c->hits++;
        *out = c->head;
        return SL_OK;
    }
    h = sl_hash_bytes(key, klen);
    e = c->slots[kc_probe(c, h, key, klen)].e;

    if (e == NULL) {
        c->misses++;
        return SL_ENOTFOUND;
    }
    c->hits++;
    if (c->head != e) {
        lru_unlink(c, e);
        lru_push_head(c, e);
    }
    *out = e;
    return SL_OK;
}

/* Stores a new entry for key (not in the cache). */
static int kc_insert(sl_kcache *c, uint64_t h, const void *key, size_t klen, const void *val,
                     size_t vlen, unsigned flags, sl_kcache_entry **out)
{
    sl_kcache_entry *e;

    if ((c->used + 1) * 4 > (c->mask + 1) * 3 && kc_resize(c, (c->mask + 1) * 2) != SL_OK) {
        return SL_ENOMEM;
    }
    if ((e = kc_entry_new(h, key, klen, val, vlen)) == NULL) {
        return SL_ENOMEM;
    }
    kc_entry_link(c, kc_probe(c, h, key, klen), e, flags);
    *out = e;
    return SL_OK;
}

/* Gives key's entry a value too large for it: a new entry takes its place.
 * val does not point into old (old's value is shorter than vlen). */
static int kc_regrow(sl_kcache *c, sl_kcache_entry *old, const void *val, size_t vlen,
                     unsigned flags, sl_kcache_entry **out)
{
    sl_kcache_entry *e = kc_entry_new(old->hash, old->data, old->klen, val, vlen);
    size_t i;

    if (e == NULL) {
        return SL_ENOMEM;
    }
    flags |= (old->flags & KC_DIRTY ? SL_KCACHE_DIRTY : 0) |
             (old->flags & KC_STORED ? SL_KCACHE_IN_STORE : 0);
    kc_entry_drop(c, old);
    i = kc_probe(c, e->hash, e->data, e->klen);
    kc_entry_link(c, i, e, flags);
    *out = e;
    return SL_OK;
}

int sl_kcache_store(sl_kcache *c, const void *key, size_t klen, const void *val, size_t vlen,
                    unsigned flags, sl_kcache_entry **out)
{
    uint64_t h = 0;
    sl_kcache_entry *e = c->head;
    int rv = SL_OK;

    if (!kc_is_head(c, key, klen)) {
        h = sl_hash_bytes(key, klen);
        e = c->slots[kc_probe(c, h, key, klen)].e;
    }
    if (val == NULL) {
        vlen = 0;
    }
    if (e == NULL) {
        rv = kc_insert(c, h, key, klen, val, vlen, flags, &e);
    } else if (vlen > e->vcap) {
        rv = kc_regrow(c, e, val, vlen, flags, &e);
    } else {
        if (c->head != e) {
            lru_unlink(c, e);
            lru_push_head(c, e);
        }
        kc_entry_set(c, e, val, vlen, flags);
    }
    if (rv != SL_OK) {
        return rv;
    }
    if (out != NULL) {
        *out = e;
    }
    return kc_evict(c, e);
}

int sl_kcache_flush(sl_kcache *c)
{
    int rv = SL_OK;

    if (c->ndirty == 0) {
        return SL_OK;
    }
    for (sl_kcache_entry *e = c->dirty; e != NULL; e = e->dnext) {
        if (rv == SL_OK) {
            rv = c->sink.put(c->sink.arg, e->data, e->klen,
                             (e->flags & KC_PRESENT) ? kc_val(e) : NULL, e->vlen);
        }
    }
    int crv = c->sink.commit(c->sink.arg);
    c->batches++;
    if (rv != SL_OK || crv != SL_OK) {
        return rv != SL_OK ? rv : crv;
    }
    while (c->dirty != NULL) {
        sl_kcache_entry *e = c->dirty;
        e->flags = (e->flags & KC_PRESENT) ? e->flags | KC_STORED : e->flags & ~KC_STORED;
        dirty_clear(c, e);
    }
    return SL_OK;
}

int sl_kcache_delete(sl_kcache *c, const void *key, size_t klen)
{
    uint64_t h = sl_hash_bytes(key, klen);
    size_t i = kc_probe(c, h, key, klen);
    sl_kcache_entry *e = c->slots[i].e;

    if (e != NULL && !(e->flags & KC_STORED)) {
        kc_entry_drop(c, e);
        return SL_OK;
    }
    return sl_kcache_store(c, key, klen, NULL, 0, SL_KCACHE_DIRTY | SL_KCACHE_IN_STORE, NULL);
}

int sl_kcache_entry_present(const sl_kcache_entry *e, const void **val, size_t *vlen)
{
    if (!(e->flags & KC_PRESENT)) {
        return 0;
    }
    if (val != NULL) {
        *val = kc_val(e);
    }
    if (vlen != NULL) {
        *vlen = e->vlen;
    }
    return 1;
}

int sl_kcache_complete(const sl_kcache *c)
{
    return c->complete;
}

void sl_kcache_get_stats(const sl_kcache *c, sl_kcache_stats *out)
{
    out->entries = c->used;
    out->dirty = c->ndirty;
    out->bytes = c->bytes;
    out->budget = c->budget;
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    out->batches = c->batches;
    out->complete = c->complete;
}

/* ---- budget ---------------------------------------------------------- */

void sl_kcache_budget_init(sl_kcache_budget *b, size_t bytes)
{
    b->bytes = bytes > 0 ? bytes : SL_KCACHE_DEFAULT_BUDGET;
}

void sl_kcache_budget_from_config(sl_kcache_budget *b, const sl_config *cfg)
{
    int64_t bytes = 0;

    if (cfg == NULL ||
        sl_config_get_bytes(cfg, "state.backend.leveldb.cache-size", &bytes) != SL_OK ||
        bytes <= 0) {
        bytes = 0;
    }
    sl_kcache_budget_init(b, (size_t)bytes);
}

size_t sl_kcache_budget_bytes(const sl_kcache_budget *b)
{
    return b != NULL ? b->bytes : SL_KCACHE_DEFAULT_BUDGET;
}
