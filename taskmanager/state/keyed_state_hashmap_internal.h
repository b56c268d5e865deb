/* The hashmap backend's entries, tables and restore blocks, shared by
 * keyed_state_hashmap.c (tables, puts, views) and
 * keyed_state_hashmap_blocks.c (the blocks restored entries are packed
 * into). Prefix sl_hashmap_ / SL_HASHMAP_, as keyed_state_hashmap.h.
 * Private to those two files; see keyed_state_hashmap.c for the design.
 * Task thread only, like the state. */
#ifndef SL_KEYED_STATE_HASHMAP_INTERNAL_H
#define SL_KEYED_STATE_HASHMAP_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "taskmanager/state/keyed_state_backend.h"

typedef struct sl_hashmap_entry {
    uint32_t klen;        /* key length, | SL_HASHMAP_IN_BLOCK for a block entry */
    uint32_t vlen;
    uint32_t vcap;
    uint32_t ver;         /* state version it was written at */
    unsigned char data[]; /* key, padding to 8, value (vcap bytes) */
} sl_hashmap_entry;

/* Set in klen (lengths are at most 2^30) when the entry lies in a block. */
#define SL_HASHMAP_IN_BLOCK (UINT32_C(1) << 31)

#define SL_HASHMAP_BLOCK_MIN ((size_t)16 << 10)      /* block sizes (entry bytes) */
#define SL_HASHMAP_BLOCK_MAX ((size_t)2 << 20)
#define SL_HASHMAP_BLOCK_ENTRY_MAX ((size_t)4 << 10) /* larger restored entries: malloc */

/* A block of restored entries; the entries follow the header. */
typedef struct sl_hashmap_block {
    size_t size; /* bytes, header included */
    size_t used; /* bytes handed out, header included */
    size_t live; /* entries handed out and not yet freed */
} sl_hashmap_block;

typedef struct sl_hashmap_slot {
    uint64_t hash;
    sl_hashmap_entry *e; /* NULL: empty */
} sl_hashmap_slot;

typedef struct sl_hashmap_table {
    sl_hashmap_slot *slots;    /* NULL until the group's first put */
    uint32_t mask;
    uint32_t count;
    uint32_t nblocks, blocks_cap;
    sl_hashmap_block **blocks; /* ascending addresses */
    sl_hashmap_block *cur;     /* the block a running restore of the group fills */
    size_t grown;              /* bytes of the blocks that restore opened */
} sl_hashmap_table;

/* A restore's place in its batch, for sizing the group's next block. */
typedef struct sl_hashmap_restore {
    const sl_ks_pair *p; /* the batch */
    size_t n;            /* its pairs */
    size_t k;            /* the pair being put */
    uint64_t more;       /* the group's entries after the batch */
} sl_hashmap_restore;

static inline uint32_t sl_hashmap_klen(const sl_hashmap_entry *e)
{
    return e->klen & ~SL_HASHMAP_IN_BLOCK;
}

static inline size_t sl_hashmap_voff(uint32_t klen)
{
    return ((size_t)klen + 7) & ~(size_t)7;
}

static inline unsigned char *sl_hashmap_val(sl_hashmap_entry *e)
{
    return e->data + sl_hashmap_voff(sl_hashmap_klen(e));
}

/* Room for a value of vlen: rounded up to 8, at least half again the old
 * capacity when a value grows. */
static inline uint32_t sl_hashmap_vcap(size_t vlen, uint32_t old)
{
    size_t want = vlen;

    if (old > 0 && want < (size_t)old + old / 2) {
        want = (size_t)old + old / 2;
    }
    want = (want + 7) & ~(size_t)7;
    return (uint32_t)(want < 2 * (size_t)SL_KS_MAX_LEN ? want : 2 * (size_t)SL_KS_MAX_LEN);
}

/* memcpy, with the short lengths of typical keys and values inline. */
static inline void sl_hashmap_copy(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        memcpy(d, s, n);
    }
}

/* Bytes of an entry for a new key of klen and value of vlen. */
static inline size_t sl_hashmap_entry_size(size_t klen, size_t vlen)
{
    return sizeof(sl_hashmap_entry) + sl_hashmap_voff((uint32_t)klen) + sl_hashmap_vcap(vlen, 0);
}

/* Fills a fresh entry of klen and vcap (flags: 0 or SL_HASHMAP_IN_BLOCK). */
static inline sl_hashmap_entry *sl_hashmap_entry_fill(sl_hashmap_entry *e, uint32_t flags,
                                                      const void *key, size_t klen, const void *val,
                                                      size_t vlen, uint32_t vcap, uint32_t ver)
{
    e->klen = (uint32_t)klen | flags;
    e->vlen = (uint32_t)vlen;
    e->vcap = vcap;
    e->ver = ver;
    sl_hashmap_copy(e->data, key, klen);
    sl_hashmap_copy(e->data + sl_hashmap_voff((uint32_t)klen), val, vlen);
    return e;
}

/* ---- entry blocks (keyed_state_hashmap_blocks.c) */

/* sz bytes for a restored entry of table t from the group's current
 * block, opening a new one when it is full; NULL when out of memory. The
 * entry counts as live in its block until sl_hashmap_entry_free. */
sl_hashmap_entry *sl_hashmap_block_alloc(sl_hashmap_table *t, size_t sz,
                                         const sl_hashmap_restore *r);
/* The group's restore is over: its next one starts new blocks. */
void sl_hashmap_block_finish(sl_hashmap_table *t);
/* Frees an entry of t no view can read any more: its own allocation, or
 * its share of a block (the block goes with its last entry). */
void sl_hashmap_entry_free(sl_hashmap_table *t, sl_hashmap_entry *e);
/* Frees all of t's blocks at once (closing the state). */
void sl_hashmap_blocks_free(sl_hashmap_table *t);

#endif
