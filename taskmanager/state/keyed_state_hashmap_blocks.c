/* The blocks of the hashmap backend: a restore packs a key group's new
 * entries into a few malloc'd blocks (bump allocation) instead of one
 * malloc each; a block counts its live entries and is freed with its last
 * one. Sizing: room for what the restore still needs, but never more
 * than the restore's earlier blocks of the group together (at least
 * SL_HASHMAP_BLOCK_MIN) nor than SL_HASHMAP_BLOCK_MAX. */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/state/keyed_state_hashmap_internal.h"

/* Index in t->blocks of the block holding e (a block entry of t). */
static uint32_t hm_block_find(const sl_hashmap_table *t, const sl_hashmap_entry *e)
{
    uint32_t lo = 0, hi = t->nblocks; /* blocks[lo] <= e < blocks[hi] */

    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)t->blocks[mid] <= (uintptr_t)e) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Adds b to t->blocks, keeping address order. */
static int hm_block_add(sl_hashmap_table *t, sl_hashmap_block *b)
{
    uint32_t i = t->nblocks;

    if (t->nblocks == t->blocks_cap) {
        uint32_t cap = t->blocks_cap ? t->blocks_cap * 2 : 4;
        sl_hashmap_block **nb = realloc(t->blocks, cap * sizeof(*nb));
        if (nb == NULL) {
            return SL_ENOMEM;
        }
        t->blocks = nb;
        t->blocks_cap = cap;
    }
    while (i > 0 && (uintptr_t)t->blocks[i - 1] > (uintptr_t)b) {
        t->blocks[i] = t->blocks[i - 1];
        i--;
    }
    t->blocks[i] = b;
    t->nblocks++;
    return SL_OK;
}

/* Entry bytes a restore still needs in blocks, this pair included:
 * exactly for the rest of the batch, at the batch's average for the
 * entries after it. Entries above SL_HASHMAP_BLOCK_ENTRY_MAX do not count. */
static uint64_t hm_restore_estimate(const sl_hashmap_restore *r)
{
    uint64_t all = 0, rest = 0, nb = 0;

    for (size_t i = 0; i < r->n; i++) {
        size_t sz = sl_hashmap_entry_size(r->p[i].klen, r->p[i].vlen);
        if (sz <= SL_HASHMAP_BLOCK_ENTRY_MAX) {
            all += sz;
            rest += i >= r->k ? sz : 0;
            nb++;
        }
    }
    return rest + (nb > 0 ? r->more * (all / nb) : 0);
}

/* Bytes of a new block for a restore that needs sz bytes now: room for
 * all it still needs (hm_restore_estimate), capped by what the restore's
 * blocks of the group hold so far (at least SL_HASHMAP_BLOCK_MIN) and by
 * SL_HASHMAP_BLOCK_MAX, so an estimate too high wastes at most about as much as
 * was used. */
static size_t hm_block_size(const sl_hashmap_table *t, size_t sz, const sl_hashmap_restore *r)
{
    size_t cap = t->grown > SL_HASHMAP_BLOCK_MIN ? t->grown : SL_HASHMAP_BLOCK_MIN;
    uint64_t want = hm_restore_estimate(r);

    if (cap > SL_HASHMAP_BLOCK_MAX) {
        cap = SL_HASHMAP_BLOCK_MAX;
    }
    if (want > cap) {
        want = cap;
    }
    if (want < sz) {
        want = sz;
    }
    return sizeof(sl_hashmap_block) + (size_t)want;
}

static sl_hashmap_block *hm_block_new(sl_hashmap_table *t, size_t size)
{
    sl_hashmap_block *b = malloc(size);

    if (b == NULL) {
        return NULL;
    }
    b->size = size;
    b->used = sizeof(*b);
    b->live = 0;
    if (hm_block_add(t, b) != SL_OK) {
        free(b);
        return NULL;
    }
    t->grown += size;
    return b;
}

/* A new block is sized by hm_block_size. */
sl_hashmap_entry *sl_hashmap_block_alloc(sl_hashmap_table *t, size_t sz,
                                         const sl_hashmap_restore *r)
{
    sl_hashmap_block *b = t->cur;
    sl_hashmap_entry *e;

    if (b == NULL || b->size - b->used < sz) {
        if ((b = hm_block_new(t, hm_block_size(t, sz, r))) == NULL) {
            return NULL;
        }
        t->cur = b;
    }
    e = (sl_hashmap_entry *)((unsigned char *)b + b->used);
    b->used += sz;
    b->live++;
    return e;
}

void sl_hashmap_block_finish(sl_hashmap_table *t)
{
    t->cur = NULL;
    t->grown = 0;
}

void sl_hashmap_entry_free(sl_hashmap_table *t, sl_hashmap_entry *e)
{
    uint32_t i;
    sl_hashmap_block *b;

    if (!(e->klen & SL_HASHMAP_IN_BLOCK)) {
        free(e);
        return;
    }
    i = hm_block_find(t, e);
    b = t->blocks[i];
    if (--b->live > 0) {
        return;
    }
    memmove(&t->blocks[i], &t->blocks[i + 1], (t->nblocks - i - 1) * sizeof(*t->blocks));
    t->nblocks--;
    if (t->cur == b) {
        t->cur = NULL;
    }
    free(b);
}

void sl_hashmap_blocks_free(sl_hashmap_table *t)
{
    for (uint32_t b = 0; b < t->nblocks; b++) {
        free(t->blocks[b]);
    }
    free(t->blocks);
    t->blocks = NULL;
    t->nblocks = t->blocks_cap = 0;
    t->cur = NULL;
}
