/* The blocks of the hashmap backend: a restore packs a key group's new
 * entries into a few malloc'd blocks (bump allocation) instead of one
 * malloc each; a block counts its live entries and is freed with its last
 * one. Sizing: room for what the restore still needs, but never more
 * than the restore's earlier blocks of the group together (at least
 * HM_BLOCK_MIN) nor than HM_BLOCK_MAX. */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/state/keyed_state_hashmap.h"

/* Index in t->blocks of the block holding e (a block entry of t). */
static uint32_t hm_block_find(const hm_table *t, const hm_entry *e)
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
static int hm_block_add(hm_table *t, hm_block *b)
{
    uint32_t i = t->nblocks;

    if (t->nblocks == t->blocks_cap) {
        uint32_t cap = t->blocks_cap ? t->blocks_cap * 2 : 4;
        hm_block **nb = realloc(t->blocks, cap * sizeof(*nb));
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
 * entries after it. Entries above HM_BLOCK_ENTRY_MAX do not count. */
static uint64_t hm_restore_estimate(const hm_restore *r)
{
    uint64_t all = 0, rest = 0, nb = 0;

    for (size_t i = 0; i < r->n; i++) {
        size_t sz = hm_entry_size(r->p[i].klen, r->p[i].vlen);
        if (sz <= HM_BLOCK_ENTRY_MAX) {
            all += sz;
            rest += i >= r->k ? sz : 0;
            nb++;
        }
    }
    return rest + (nb > 0 ? r->more * (all / nb) : 0);
}

/* Bytes of a new block for a restore that needs sz bytes now: room for
 * all it still needs (hm_restore_estimate), capped by what the restore's
 * blocks of the group hold so far (at least HM_BLOCK_MIN) and by
 * HM_BLOCK_MAX, so an estimate too high wastes at most about as much as
 * was used. */
static size_t hm_block_size(const hm_table *t, size_t sz, const hm_restore *r)
{
    size_t cap = t->grown > HM_BLOCK_MIN ? t->grown : HM_BLOCK_MIN;
    uint64_t want = hm_restore_estimate(r);

    if (cap > HM_BLOCK_MAX) {
        cap = HM_BLOCK_MAX;
    }
    if (want > cap) {
        want = cap;
    }
    if (want < sz) {
        want = sz;
    }
    return sizeof(hm_block) + (size_t)want;
}

static hm_block *hm_block_new(hm_table *t, size_t size)
{
    hm_block *b = malloc(size);

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
hm_entry *sl_hm_block_alloc(hm_table *t, size_t sz, const hm_restore *r)
{
    hm_block *b = t->cur;
    hm_entry *e;

    if (b == NULL || b->size - b->used < sz) {
        if ((b = hm_block_new(t, hm_block_size(t, sz, r))) == NULL) {
            return NULL;
        }
        t->cur = b;
    }
    e = (hm_entry *)((unsigned char *)b + b->used);
    b->used += sz;
    b->live++;
    return e;
}

void sl_hm_block_finish(hm_table *t)
{
    t->cur = NULL;
    t->grown = 0;
}

void sl_hm_entry_free(hm_table *t, hm_entry *e)
{
    uint32_t i;
    hm_block *b;

    if (!(e->klen & HM_IN_BLOCK)) {
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

void sl_hm_blocks_free(hm_table *t)
{
    for (uint32_t b = 0; b < t->nblocks; b++) {
        free(t->blocks[b]);
    }
    free(t->blocks);
    t->blocks = NULL;
    t->nblocks = t->blocks_cap = 0;
    t->cur = NULL;
}
