/* A bounded write-back cache of keyed state entries, in front of a slower
 * store (the leveldb backend, keyed_state_leveldb.c), and its budget.
 * Prefix sl_kcache_ / SL_KCACHE_.
 *
 * Place: below the leveldb backend, which alone makes caches (one per
 * state) and owns them; the cache calls only its sink (the backend's
 * WriteBatch, passed in at sl_kcache_new). The budget object is made by
 * the taskmanager daemon (task_manager.c), see the end of this header.
 *
 * Keys are opaque byte strings (leveldb's encoded keys: key group, then the
 * user key). An entry is either present (with a value) or absent (a
 * tombstone: known not to exist), and clean (the store has it) or dirty
 * (the store must be told). A lookup moves the entry to the most recently
 * used end. When the cache holds more than its budget it evicts from the
 * least recently used end until it is under 7/8 of the budget: the dirty
 * victims go to the store in one batch (sink), and the victims are freed
 * only once that batch was written, so a failed write loses nothing.
 *
 * Memory: the budget covers entries (header, key, value, allocator
 * overhead) and the hash table's slots. The most recently used entry is
 * never evicted, so one entry larger than the budget still fits until the
 * next store.
 *
 * Single-threaded, like the state that owns it. */
#ifndef SL_KEYED_STATE_CACHE_H
#define SL_KEYED_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Default of state.backend.leveldb.cache-size (common/config.c). */
#define SL_KCACHE_DEFAULT_BUDGET ((size_t)64 << 20)
/* Smallest budget accepted (smaller ones are raised to it). */
#define SL_KCACHE_MIN_BUDGET ((size_t)4096)

typedef struct sl_kcache sl_kcache;
typedef struct sl_kcache_entry sl_kcache_entry;

/* Where dirty entries go: put is called for each entry of a batch (val is
 * NULL for a tombstone: delete the key), then commit once. A batch ends
 * with commit even when a put failed; commit's status decides whether
 * the batch counts as written. */
typedef struct sl_kcache_sink {
    int (*put)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);
    int (*commit)(void *arg);
    void *arg;
} sl_kcache_sink;

/* *out owned by caller, free with sl_kcache_free. budget in bytes. */
int sl_kcache_new(size_t budget, const sl_kcache_sink *sink, sl_kcache **out);
/* Frees every entry; dirty ones are dropped (flush first to keep them). */
void sl_kcache_free(sl_kcache *c);

/* Finds key; *out valid until the next store, flush or free. SL_ENOTFOUND
 * if the cache does not know the key (the store may still have it). */
int sl_kcache_lookup(sl_kcache *c, const void *key, size_t klen, sl_kcache_entry **out);

/* Flags of sl_kcache_store. */
#define SL_KCACHE_DIRTY 1u    /* the store must be told (else: the store has it) */
#define SL_KCACHE_IN_STORE 2u /* the store holds the key (now, before this store) */

/* Records key as present with val (val NULL: absent), replacing what the
 * cache held for it, then evicts down to the budget (never this entry).
 * A dirty entry stays dirty until written; an entry known to be in the
 * store stays so until a tombstone is written. val may point into a cached
 * entry. *out (may be NULL) is the entry, valid until the next store,
 * delete, flush or free. On an eviction failure the entry is stored but
 * the status is SL_EIO. */
int sl_kcache_store(sl_kcache *c, const void *key, size_t klen, const void *val, size_t vlen,
                    unsigned flags, sl_kcache_entry **out);

/* Records that key, which exists, is deleted: a dirty tombstone if the
 * store may hold it, else the entry is simply dropped (a later miss asks
 * the store, which never had it). Returns like sl_kcache_store. */
int sl_kcache_delete(sl_kcache *c, const void *key, size_t klen);

/* Writes every dirty entry to the sink in one batch; all are clean after
 * success, none after failure. */
int sl_kcache_flush(sl_kcache *c);

/* 1 if present; then *val and *vlen give its value. */
int sl_kcache_entry_present(const sl_kcache_entry *e, const void **val, size_t *vlen);

/* Counters. complete: 1 while no present entry was ever evicted, so a key
 * the cache does not know was never stored (no need to ask the store). */
typedef struct sl_kcache_stats {
    size_t entries, dirty, bytes, budget;
    uint64_t hits, misses, evictions, batches;
    int complete;
} sl_kcache_stats;
void sl_kcache_get_stats(const sl_kcache *c, sl_kcache_stats *out);
int sl_kcache_complete(const sl_kcache *c);

/* ---- the budget
 * The budget of a cache, in bytes (state.backend.leveldb.cache-size: each
 * leveldb state's cache gets all of it). An object rather than a
 * process-wide setting: the taskmanager daemon makes one at start from its
 * configuration and owns it for its lifetime (a member of sl_tm); job runs
 * borrow it read-only down to sl_ks_open, which reads it when a leveldb
 * state opens. Never written after init, so any thread may read it. */
typedef struct sl_kcache_budget {
    size_t bytes;
} sl_kcache_budget;

/* bytes 0: SL_KCACHE_DEFAULT_BUDGET. */
void sl_kcache_budget_init(sl_kcache_budget *b, size_t bytes);
/* From state.backend.leveldb.cache-size of cfg; the default when cfg is
 * NULL or holds no positive size. */
void sl_kcache_budget_from_config(sl_kcache_budget *b, const sl_config *cfg);
/* The bytes of b, SL_KCACHE_DEFAULT_BUDGET for b NULL. */
size_t sl_kcache_budget_bytes(const sl_kcache_budget *b);

#endif
