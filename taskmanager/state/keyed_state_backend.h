/* Keyed state backends: the vtable behind sl_ks_state (private to the
 * keyed_state*.c files). Prefix sl_ks_, as keyed_state.h: the same module.
 * Each backend declares its table in its own header
 * (keyed_state_hashmap.h, keyed_state_leveldb.h).
 *
 * Place: the front (keyed_state.c) calls the backends through sl_ks_ops;
 * the snapshot writer (keyed_state_snapshot.c) calls the front's views and
 * restore puts declared at the end. A backend calls nothing above it.
 *
 * The front (keyed_state.c) checks every argument before it calls a
 * backend: kg lies in [kg_start, kg_end] of the open, key and value lengths
 * are at most SL_KS_MAX_LEN, pointers are non-NULL where a length is > 0.
 * Backends return SL_OK or a status code and log the cause of SL_EIO. */
#ifndef SL_KEYED_STATE_BACKEND_H
#define SL_KEYED_STATE_BACKEND_H

#include <stddef.h>

#include "taskmanager/state/keyed_state.h"

/* Largest key or value accepted, so lengths fit a uint32_t. */
#define SL_KS_MAX_LEN (1u << 30)

/* A key and value read from a snapshot (pointing into its bytes). */
typedef struct sl_ks_pair {
    const void *key;
    const void *val;
    size_t klen;
    size_t vlen;
} sl_ks_pair;

typedef struct sl_ks_ops {
    const char *name;
    /* dir and budget: as given to sl_ks_open (may be NULL). */
    int (*open)(int kg_start, int kg_end, const char *dir, const struct sl_kcache_budget *budget,
                void **impl);
    void (*close)(void *impl);
    /* *val valid until the next get, put, delete or close. */
    int (*get)(void *impl, int kg, const void *key, size_t klen, const void **val, size_t *vlen);
    int (*put)(void *impl, int kg, const void *key, size_t klen, const void *val, size_t vlen);
    int (*del)(void *impl, int kg, const void *key, size_t klen);
    size_t (*count)(const void *impl);
    /* Optional (NULL: nothing to do): room for n more entries in key group
     * kg, so a restore does not grow the group's table step by step. */
    int (*presize)(void *impl, int kg, uint64_t n);
    /* Optional (NULL: put is used for each pair): puts made by a restore,
     * which loads the entries of a key group in batches, in order. more
     * counts the group's entries after these n (0 with its last batch);
     * the backend may use it to pack the group's new entries together.
     * Same result as n puts, duplicate keys included; on an error, some of
     * the pairs may have been put. */
    int (*put_restored)(void *impl, int kg, const sl_ks_pair *p, size_t n, uint64_t more);
    int (*visit)(void *impl, int kg, sl_ks_visit_fn fn, void *arg);

    /* Snapshot views: a read-only view of the whole state as it was at
     * view_open. view_visit calls fn for every entry of key groups
     * [kg_lo, kg_hi] (a sub-range of the open's), group after group in
     * ascending order, all entries of a group together; it returns like
     * visit. view_open may answer SL_EBUSY (a backend that keeps one view
     * at a time); the caller then reads the live state instead.
     *
     * views_async = 0: the view is read and closed on the task thread
     * before the state is modified again or closed (leveldb's view is a
     * leveldb snapshot, read synchronously for now).
     * views_async = 1: the view stays consistent while the task goes on
     * writing (hashmap copies on write), and view_visit and view_close may
     * run on another thread, even after the state was closed. */
    int (*view_open)(void *impl, void **view);
    int (*view_visit)(void *view, int kg_lo, int kg_hi, sl_ks_visit_fn fn, void *arg);
    void (*view_close)(void *view);
    int views_async;
} sl_ks_ops;

/* Puts n pairs of key group kg for a restore (keyed_state_snapshot.c):
 * checks st and kg, then calls the backend's put_restored (see sl_ks_ops)
 * or put for each pair. The caller guarantees what the front checks for a
 * put: every length at most SL_KS_MAX_LEN, a pointer wherever a length is
 * above 0 (the pairs point into the snapshot's bytes). more: the group's
 * entries after these. */
int sl_ks_put_restored(sl_ks_state *st, int kg, const sl_ks_pair *p, size_t n, uint64_t more);

/* A consistent view of an open state, for writing a snapshot
 * (keyed_state_snapshot.c). With views_async, the view may be visited and
 * closed on another thread and outlives sl_ks_close. */
typedef struct sl_ks_view sl_ks_view;

/* SL_EBUSY: the backend has a view open already (see view_open). */
int sl_ks_view_open(sl_ks_state *st, sl_ks_view **out);
/* 1 if v may be visited and closed on another thread (views_async). */
int sl_ks_view_async(const sl_ks_view *v);
/* Visits the entries of [kg_lo, kg_hi] clamped to the state's key groups. */
int sl_ks_view_visit(sl_ks_view *v, int kg_lo, int kg_hi, sl_ks_visit_fn fn, void *arg);
void sl_ks_view_close(sl_ks_view *v);

#endif
