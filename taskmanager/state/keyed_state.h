/* Keyed state: per-subtask key/value state organised by key group.
 * Prefix sl_ks_ (also for the backend vtable, keyed_state_backend.h).
 *
 * One sl_ks_state per subtask per stateful operator. Keys and values are
 * opaque byte strings; every entry belongs to a key group so snapshots and
 * restores can take any key-group range (rescaling). Backends sit behind a
 * vtable (keyed_state_backend.h): "hashmap" (in memory,
 * keyed_state_hashmap.c) and "leveldb" (a working copy on local disk,
 * keyed_state_leveldb.c, behind a write-back cache, keyed_state_cache.c).
 * The snapshot format does not depend on the backend.
 *
 * Place: the top of state/. Called by the keyed operators' glue
 * (operators/keyed_op.c, and through it every keyed operator and the
 * timers rebuilt from state) and by the snapshot uploader, which writes
 * begun snapshots (checkpoint/). It calls the backends and nothing above
 * state/.
 *
 * Files: keyed_state.c (argument checks, backend dispatch, snapshot
 * views), keyed_state_snapshot.c (snapshots and restores),
 * keyed_state_local_dir.c (local working folders).
 *
 * Single-threaded: only the owning task thread calls these, except the
 * snapshot writes said below. */
#ifndef SL_KEYED_STATE_H
#define SL_KEYED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "taskmanager/buf.h"

struct sl_kcache_budget; /* keyed_state_cache.h */

/* The struct keeps its old tag until the lead's rename (RENAMES.txt), so
 * that forward declarations elsewhere still name the same type. */
typedef struct sl_ks_state sl_ks_state;

/* Opens a backend ("hashmap" or "leveldb") for key groups [kg_start,
 * kg_end]. dir is the state's local working folder, unique to it (see
 * sl_ks_local_dir): unused by hashmap (may be NULL); leveldb
 * requires it, creates it (and missing parents), starts from an empty
 * database even if an old copy is there, and removes the folder on close
 * (the checkpoint is the durable copy). budget: the write-back cache's
 * budget of leveldb (borrowed, read at open only; NULL: the default,
 * SL_KCACHE_DEFAULT_BUDGET), unused by hashmap. *out owned by caller,
 * free with sl_ks_close. */
int sl_ks_open(const char *backend, int kg_start, int kg_end, const char *dir,
               const struct sl_kcache_budget *budget, sl_ks_state **out);
void sl_ks_close(sl_ks_state *st);

/* Looks up key in key group kg. On success *val and *vlen give bytes owned by
 * the state, valid until the next get, put, delete or close of this state
 * (leveldb keeps only the last result). SL_ENOTFOUND if absent. */
int sl_ks_get(sl_ks_state *st, int kg, const void *key, size_t klen, const void **val,
              size_t *vlen);
/* Inserts or replaces (key and value copied). */
int sl_ks_put(sl_ks_state *st, int kg, const void *key, size_t klen, const void *val,
              size_t vlen);
int sl_ks_delete(sl_ks_state *st, int kg, const void *key, size_t klen);
/* Number of entries. */
size_t sl_ks_count(const sl_ks_state *st);
/* A hint before n puts into key group kg (restores): the hashmap sizes the
 * group's table once. SL_EINVAL for a key group outside the state's range,
 * SL_ENOMEM; a no-op for backends without the hint. */
int sl_ks_presize(sl_ks_state *st, int kg, uint64_t n);

/* Visits every entry of key group kg (order unspecified for hashmap, key
 * order for leveldb). The
 * callback returns 0 to go on, non-zero to stop (that value is returned).
 * The state must not be modified during the visit. */
typedef int (*sl_ks_visit_fn)(void *arg, int kg, const void *key, size_t klen, const void *val,
                              size_t vlen);
int sl_ks_visit_group(sl_ks_state *st, int kg, sl_ks_visit_fn fn, void *arg);

/* Writes into out the local working folder of one state of one job
 * attempt: <root>/<job_id>-<attempt>-<stage>-<subtask>, root being one of
 * the comma-separated absolute paths (or file:// URIs) of roots
 * (taskmanager.state.local.root-dirs), picked by subtask. Also removes the
 * folders that earlier attempts of the same job left under that root and
 * that no live process holds (a killed taskmanager cannot delete its
 * own). SL_EINVAL on a bad root or name, SL_ENOSPC if out is too small. */
int sl_ks_local_dir(const char *roots, const char *job_id, uint32_t attempt, const char *stage,
                    int subtask, char *out, size_t outlen);

/* ---- snapshots (keyed_state_snapshot.c)
 * Wire form: for every non-empty key group in order: varint kg, varint n,
 * then n times (varint klen, key, varint vlen, value). Grouping by key
 * group lets a restore take any key-group range (rescaling). */

/* Appends the entries of key groups [kg_start, kg_end] to out, now. */
int sl_ks_snapshot_to_buf(sl_ks_state *st, int kg_start, int kg_end, sl_buf *out);
/* Loads the entries of data whose key group lies in [kg_lo, kg_hi]; others
 * are skipped. Entries replace those of the same key already in st (and a
 * key twice in data ends with its later value). SL_EINVAL on malformed
 * data, after which st may hold part of it. */
int sl_ks_restore(sl_ks_state *st, const uint8_t *data, size_t len, int kg_lo, int kg_hi);

/* Asynchronous snapshots: the synchronous part on the task thread, the
 * writing anywhere.
 *
 * sl_ks_snapshot_begin takes a consistent snapshot of key groups
 * [kg_start, kg_end] (task thread). For hashmap it only opens a
 * copy-on-write view (a pass over the slots, no entry copied); for leveldb
 * (and for hashmap while an earlier snapshot is still being written) it
 * serializes the entries into memory. *out is owned by the caller.
 *
 * sl_ks_snapshot_write sends the snapshot's bytes, in the wire form
 * above, to fn in chunks of at most about 256 KB, on any thread, even
 * after the state was closed; at most once per snapshot. fn returns 0 to
 * go on; a non-zero value stops the write and is returned.
 * sl_ks_snapshot_free releases it (any thread), written or not.
 *
 * The struct keeps its old tag until the lead's rename (see above). */
typedef struct sl_ks_snapshot sl_ks_snapshot;
typedef int (*sl_ks_snapshot_sink)(void *arg, const void *p, size_t n);

int sl_ks_snapshot_begin(sl_ks_state *st, int kg_start, int kg_end, sl_ks_snapshot **out);
int sl_ks_snapshot_write(sl_ks_snapshot *s, sl_ks_snapshot_sink fn, void *arg);
/* 1 if the write still has the entries to serialize (an open view). */
int sl_ks_snapshot_deferred(const sl_ks_snapshot *s);
void sl_ks_snapshot_free(sl_ks_snapshot *s);

#endif
