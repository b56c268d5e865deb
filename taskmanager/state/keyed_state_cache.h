/* A bounded write-back cache of keyed state entries, in front of a slower
 * store (the leveldb backend, keyed_state_leveldb.c).
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
#define SL_KC_DEFAULT_BUDGET ((size_t)64 << 20)
/* Smallest budget accepted (smaller ones are raised to it). */
#define SL_KC_MIN_BUDGET ((size_t)4096)

typedef struct sl_kc sl_kc;
typedef struct sl_kc_entry sl_kc_entry;

/* Where dirty entries go: put is called for each entry of a batch (val is
 * NULL for a tombstone: delete the key), then commit once. A batch ends
 * with commit even when a put failed; commit's status decides whether
 * the batch counts as written. */
typedef struct sl_kc_sink {
    int (*put)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);
    int (*commit)(void *arg);
    void *arg;
} sl_kc_sink;

/* *out owned by caller, free with sl_kc_free. budget in bytes. */
int sl_kc_new(size_t budget, const sl_kc_sink *sink, sl_kc **out);
/* Frees every entry; dirty ones are dropped (flush first to keep them). */
void sl_kc_free(sl_kc *c);

/* Finds key; *out valid until the next store, flush or free. SL_ENOTFOUND
 * if the cache does not know the key (the store may still have it). */
int sl_kc_lookup(sl_kc *c, const void *key, size_t klen, sl_kc_entry **out);

/* Flags of sl_kc_store. */
#define SL_KC_DIRTY 1u    /* the store must be told (else: the store has it) */
#define SL_KC_IN_STORE 2u /* the store holds the key (now, before this store) */

/* Records key as present with val (val NULL: absent), replacing what the
 * cache held for it, then evicts down to the budget (never this entry).
 * A dirty entry stays dirty until written; an entry known to be in the
 * store stays so until a tombstone is written. val may point into a cached
 * entry. *out (may be NULL) is the entry, valid until the next store,
 * delete, flush or free. On an eviction failure the entry is stored but
 * the status is SL_EIO. */
int sl_kc_store(sl_kc *c, const void *key, size_t klen, const void *val, size_t vlen,
                unsigned flags, sl_kc_entry **out);

/* Records that key, which exists, is deleted: a dirty tombstone if the
 * store may hold it, else the entry is simply dropped (a later miss asks
 * the store, which never had it). Returns like sl_kc_store. */
int sl_kc_delete(sl_kc *c, const void *key, size_t klen);

/* Writes every dirty entry to the sink in one batch; all are clean after
 * success, none after failure. */
int sl_kc_flush(sl_kc *c);

/* 1 if present; then *val and *vlen give its value. */
int sl_kc_entry_present(const sl_kc_entry *e, const void **val, size_t *vlen);

/* Counters. complete: 1 while no present entry was ever evicted, so a key
 * the cache does not know was never stored (no need to ask the store). */
typedef struct sl_kc_stats {
    size_t entries, dirty, bytes, budget;
    uint64_t hits, misses, evictions, batches;
    int complete;
} sl_kc_stats;
void sl_kc_get_stats(const sl_kc *c, sl_kc_stats *out);
int sl_kc_complete(const sl_kc *c);

/* Budget for leveldb states opened after the call (process-wide; set by
 * the taskmanager from state.backend.leveldb.cache-size). 0 restores the
 * default. */
void sl_ks_leveldb_set_cache_size(size_t bytes);
size_t sl_ks_leveldb_cache_size(void);
/* Sets it from state.backend.leveldb.cache-size of cfg (keyed_state_leveldb.c);
 * for the taskmanager at start. */
void sl_ks_leveldb_configure(const sl_config *cfg);

#endif
