/* The hashmap backend's entries, tables and restore blocks, shared by
 * keyed_state_hashmap.c (tables, puts, views) and
 * keyed_state_hashmap_blocks.c (the blocks restored entries are packed
 * into). Private to those two files; see keyed_state_hashmap.c for the
 * design. Task thread only, like the state. */
#ifndef SL_KEYED_STATE_HASHMAP_H
#define SL_KEYED_STATE_HASHMAP_H

#include <stdint.h>
#include <string.h>

#include "taskmanager/state/keyed_state_backend.h"

#define KS_MAX_LEN SL_KS_MAX_LEN

typedef struct hm_entry {
    uint32_t klen;        /* key length, | HM_IN_BLOCK for a block entry */
    uint32_t vlen;
    uint32_t vcap;
    uint32_t ver;         /* state version it was written at */
    unsigned char data[]; /* key, padding to 8, value (vcap bytes) */
} hm_entry;

/* Set in klen (lengths are at most 2^30) when the entry lies in a block. */
#define HM_IN_BLOCK (UINT32_C(1) << 31)

#define HM_BLOCK_MIN ((size_t)16 << 10)      /* block sizes (entry bytes) */
#define HM_BLOCK_MAX ((size_t)2 << 20)
#define HM_BLOCK_ENTRY_MAX ((size_t)4 << 10) /* larger restored entries: malloc */

/* A block of restored entries; the entries follow the header. */
typedef struct hm_block {
    size_t size; /* bytes, header included */
    size_t used; /* bytes handed out, header included */
    size_t live; /* entries handed out and not yet freed */
} hm_block;

typedef struct hm_slot {
    uint64_t hash;
    hm_entry *e; /* NULL: empty */
} hm_slot;

typedef struct hm_table {
    hm_slot *slots; /* NULL until the group's first put */
    uint32_t mask;
    uint32_t count;
    uint32_t nblocks, blocks_cap;
    hm_block **blocks; /* ascending addresses */
    hm_block *cur;     /* the block a running restore of the group fills */
    size_t grown;      /* bytes of the blocks that restore opened */
} hm_table;

/* A restore's place in its batch, for sizing the group's next block. */
typedef struct hm_restore {
    const sl_ks_pair *p; /* the batch */
    size_t n;            /* its pairs */
    size_t k;            /* the pair being put */
    uint64_t more;       /* the group's entries after the batch */
} hm_restore;

static inline uint32_t hm_klen(const hm_entry *e)
{
    return e->klen & ~HM_IN_BLOCK;
}

static inline size_t hm_voff(uint32_t klen)
{
    return ((size_t)klen + 7) & ~(size_t)7;
}

static inline unsigned char *hm_val(hm_entry *e)
{
    return e->data + hm_voff(hm_klen(e));
}

/* Room for a value of vlen: rounded up to 8, at least half again the old
 * capacity when a value grows. */
static inline uint32_t hm_vcap(size_t vlen, uint32_t old)
{
    size_t want = vlen;

    if (old > 0 && want < (size_t)old + old / 2) {
        want = (size_t)old + old / 2;
    }
    want = (want + 7) & ~(size_t)7;
    return (uint32_t)(want < 2 * (size_t)KS_MAX_LEN ? want : 2 * (size_t)KS_MAX_LEN);
}

/* memcpy, with the short lengths of typical keys and values inline. */
static inline void hm_copy(unsigned char *d, const unsigned char *s, size_t n)
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
static inline size_t hm_entry_size(size_t klen, size_t vlen)
{
    return sizeof(hm_entry) + hm_voff((uint32_t)klen) + hm_vcap(vlen, 0);
}

/* Fills a fresh entry of klen and vcap (flags: 0 or HM_IN_BLOCK). */
static inline hm_entry *hm_entry_fill(hm_entry *e, uint32_t flags, const void *key,
                                      size_t klen, const void *val, size_t vlen, uint32_t vcap,
                                      uint32_t ver)
{
    e->klen = (uint32_t)klen | flags;
    e->vlen = (uint32_t)vlen;
    e->vcap = vcap;
    e->ver = ver;
    hm_copy(e->data, key, klen);
    hm_copy(e->data + hm_voff((uint32_t)klen), val, vlen);
    return e;
}

/* ---- entry blocks (keyed_state_hashmap_blocks.c) */

/* sz bytes for a restored entry of table t from the group's current
 * block, opening a new one when it is full; NULL when out of memory. The
 * entry counts as live in its block until sl_hm_entry_free. */
hm_entry *sl_hm_block_alloc(hm_table *t, size_t sz, const hm_restore *r);
/* The group's restore is over: its next one starts new blocks. */
void sl_hm_block_finish(hm_table *t);
/* Frees an entry of t no view can read any more: its own allocation, or
 * its share of a block (the block goes with its last entry). */
void sl_hm_entry_free(hm_table *t, hm_entry *e);
/* Frees all of t's blocks at once (closing the state). */
void sl_hm_blocks_free(hm_table *t);

#endif
