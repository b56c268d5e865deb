/* The "leveldb" keyed state backend: a working copy on local disk.
 *
 * One database per state (per operator, subtask and job attempt) in the
 * folder given to open, deleted again on close: the checkpoint is the
 * durable copy, the database only keeps state larger than memory.
 *
 * A leveldb key is the key group as 2 bytes big-endian followed by the
 * user key, so the entries of a key group are one contiguous range in key
 * order: visiting a group, or a range of groups for a snapshot, is one
 * seek and a scan. leveldb has no checkpoint API: a snapshot iterates a
 * leveldb snapshot (a consistent view while writes go on).
 *
 * A bounded write-back cache (keyed_state_cache.c, budget
 * state.backend.leveldb.cache-size per state) sits in front: reads hit it
 * first, writes and deletes (tombstones) stay in it, dirty, until the
 * least recently used entries are evicted over budget (one WriteBatch) or
 * every dirty entry is written with one WriteBatch before a snapshot view
 * or a visit, so leveldb sees everything then. While no present entry was
 * ever evicted the cache knows every key, and misses need no read at all.
 *
 * leveldb cannot count its entries, so the state does: put and delete ask
 * whether the key exists (the cache, else one leveldb read).
 *
 * The naming of the working folders and the sweep of those a killed
 * process left behind are in keyed_state_local_dir.c. */
#include <errno.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state_backend.h"
#include "taskmanager/state/keyed_state_cache.h"
#include "taskmanager/state/keyed_state_leveldb.h"

#define LDB_CACHE_BYTES (8u << 20)  /* block cache per database */
#define LDB_BLOOM_BITS 10           /* bloom filter bits per key: cheap misses */
#define LDB_MAX_OPEN_FILES 128      /* several databases share one process */
#define LDB_WRITE_BUFFER (4u << 20) /* memtable; a larger one made reads slower */
#define LDB_FILE_SIZE (16u << 20)   /* table files: 128 open ones cover 2 GB */
#define LDB_KG_BYTES 2

typedef struct ldb_state {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_readoptions_t *ropts;
    leveldb_writeoptions_t *wopts;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *bloom;
    leveldb_writebatch_t *batch; /* the cache's batch being built */
    sl_kcache *kc;               /* the write-back cache */
    char *path;
    size_t count;
    uint8_t *key; /* the encoded key of the current call */
    size_t klen, kcap;
} ldb_state;

typedef struct ldb_view {
    ldb_state *s;
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ropts;
} ldb_view;

/* The last leveldb error of this thread (a state is used by one task
 * thread), for the task's failure message: sl_leveldb_last_error. */
static _Thread_local char last_error[SL_LEVELDB_ERROR_MAX];

const char *sl_leveldb_last_error(void)
{
    return last_error;
}

/* Logs a leveldb error (what failed, on which database), keeps it as this
 * thread's last error and frees it. */
static int ldb_fail(const char *what, const char *path, char *err)
{
    const char *why = err != NULL ? err : "unknown error";
    sl_error("leveldb state %s: %s: %s", path, what, why);
    snprintf(last_error, sizeof(last_error), "leveldb %s: %s", what, why);
    leveldb_free(err);
    return SL_EIO;
}

/* ---- buffers and keys ------------------------------------------------ */

static int ldb_reserve(uint8_t **p, size_t *cap, size_t need)
{
    size_t n = *cap > 0 ? *cap : 64;
    uint8_t *np;

    if (need <= *cap) {
        return SL_OK;
    }
    while (n < need) {
        n *= 2;
    }
    if ((np = realloc(*p, n)) == NULL) {
        return SL_ENOMEM;
    }
    *p = np;
    *cap = n;
    return SL_OK;
}

/* Encodes kg and key into s->key (the front bounds klen). */
static int ldb_encode(ldb_state *s, int kg, const void *key, size_t klen)
{
    int rv = ldb_reserve(&s->key, &s->kcap, klen + LDB_KG_BYTES);

    if (rv != SL_OK) {
        return rv;
    }
    s->key[0] = (uint8_t)(kg >> 8);
    s->key[1] = (uint8_t)kg;
    if (klen > 0) {
        memcpy(s->key + LDB_KG_BYTES, key, klen);
    }
    s->klen = klen + LDB_KG_BYTES;
    return SL_OK;
}

static int ldb_kg_of(const char *k, size_t klen)
{
    if (klen < LDB_KG_BYTES) {
        return -1;
    }
    return ((int)(uint8_t)k[0] << 8) | (uint8_t)k[1];
}

/* ---- the cache's sink: dirty entries into one WriteBatch ------------ */

static int ldb_batch_put(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    ldb_state *s = arg;

    if (val == NULL) {
        leveldb_writebatch_delete(s->batch, key, klen);
    } else {
        leveldb_writebatch_put(s->batch, key, klen, val, vlen);
    }
    return SL_OK;
}

static int ldb_batch_commit(void *arg)
{
    ldb_state *s = arg;
    char *err = NULL;

    leveldb_write(s->db, s->wopts, s->batch, &err);
    leveldb_writebatch_clear(s->batch);
    return err != NULL ? ldb_fail("write batch", s->path, err) : SL_OK;
}

/* ---- folders --------------------------------------------------------- */

/* mkdir -p path (0700: state is private to the taskmanager's user). */
static int ldb_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp)) {
        return SL_EINVAL;
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') {
            continue;
        }
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            sl_error("leveldb state %s: cannot create %s: %s", path, tmp, strerror(errno));
            return SL_EIO;
        }
        tmp[i] = path[i];
    }
    return SL_OK;
}

/* Deletes the database at path. leveldb_destroy_db deletes nothing while
 * a live handle (this process or another) holds the database's lock. */
static int ldb_destroy(const leveldb_options_t *opts, const char *path, int quiet)
{
    char *err = NULL;

    leveldb_destroy_db(opts, path, &err);
    if (err == NULL) {
        return SL_OK;
    }
    if (quiet) {
        sl_debug("leveldb state %s: not removed: %s", path, err);
        leveldb_free(err);
        return SL_EBUSY;
    }
    ldb_fail("destroy", path, err);
    return SL_EBUSY;
}

int sl_leveldb_remove(const char *path)
{
    leveldb_options_t *opts = leveldb_options_create();
    int rv = ldb_destroy(opts, path, 1);

    leveldb_options_destroy(opts);
    return rv;
}

/* ---- open and close -------------------------------------------------- */

static void ldb_free(ldb_state *s)
{
    if (s->db != NULL) {
        leveldb_close(s->db);
    }
    if (s->opts != NULL) {
        leveldb_options_destroy(s->opts);
    }
    if (s->bloom != NULL) {
        leveldb_filterpolicy_destroy(s->bloom);
    }
    if (s->cache != NULL) {
        leveldb_cache_destroy(s->cache);
    }
    if (s->ropts != NULL) {
        leveldb_readoptions_destroy(s->ropts);
    }
    if (s->wopts != NULL) {
        leveldb_writeoptions_destroy(s->wopts);
    }
    if (s->batch != NULL) {
        leveldb_writebatch_destroy(s->batch);
    }
    sl_kcache_free(s->kc);
    free(s->key);
    free(s->path);
    free(s);
}

static int ldb_options(ldb_state *s)
{
    s->opts = leveldb_options_create();
    s->ropts = leveldb_readoptions_create();
    s->wopts = leveldb_writeoptions_create();
    s->cache = leveldb_cache_create_lru(LDB_CACHE_BYTES);
    s->bloom = leveldb_filterpolicy_create_bloom(LDB_BLOOM_BITS);
    s->batch = leveldb_writebatch_create();
    if (s->opts == NULL || s->ropts == NULL || s->wopts == NULL || s->cache == NULL ||
        s->bloom == NULL || s->batch == NULL) {
        return SL_ENOMEM;
    }
    leveldb_options_set_create_if_missing(s->opts, 1);
    leveldb_options_set_error_if_exists(s->opts, 1);
    leveldb_options_set_cache(s->opts, s->cache);
    leveldb_options_set_filter_policy(s->opts, s->bloom);
    leveldb_options_set_max_open_files(s->opts, LDB_MAX_OPEN_FILES);
    leveldb_options_set_write_buffer_size(s->opts, LDB_WRITE_BUFFER);
    leveldb_options_set_max_file_size(s->opts, LDB_FILE_SIZE);
    /* Values are small counters and aggregates: snappy saved little disk
     * and cost a decompression per read (-40% records/s with 3 M keys). */
    leveldb_options_set_compression(s->opts, leveldb_no_compression);
    /* A working copy: a crash loses it anyway, the checkpoint restores. */
    leveldb_writeoptions_set_sync(s->wopts, 0);
    return SL_OK;
}

/* An empty cache of the given budget, writing into s->batch. */
static int ldb_cache(ldb_state *s, const sl_kcache_budget *budget)
{
    const sl_kcache_sink sink = {.put = ldb_batch_put, .commit = ldb_batch_commit, .arg = s};

    return sl_kcache_new(sl_kcache_budget_bytes(budget), &sink, &s->kc);
}

static int ldb_open(int kg_start, int kg_end, const char *dir, const sl_kcache_budget *budget,
                    void **impl)
{
    ldb_state *s;
    char *err = NULL;
    int rv;

    (void)kg_start, (void)kg_end;
    if (dir == NULL || dir[0] != '/') {
        sl_error("leveldb state: needs an absolute working folder, got '%s'",
                 dir != NULL ? dir : "(none)");
        return SL_EINVAL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return SL_ENOMEM;
    }
    if ((s->path = strdup(dir)) == NULL) {
        rv = SL_ENOMEM;
        goto fail;
    }
    /* An old copy under the same name (a killed process's) is stale. */
    if ((rv = ldb_options(s)) != SL_OK || (rv = ldb_cache(s, budget)) != SL_OK ||
        (rv = ldb_destroy(s->opts, dir, 0)) != SL_OK || (rv = ldb_mkdirs(dir)) != SL_OK) {
        goto fail;
    }
    s->db = leveldb_open(s->opts, dir, &err);
    if (err != NULL) {
        s->db = NULL;
        rv = ldb_fail("open", dir, err);
        goto fail;
    }
    *impl = s;
    return SL_OK;

fail:
    ldb_free(s);
    return rv;
}

static void ldb_close(void *impl)
{
    ldb_state *s = impl;
    sl_kcache_stats st;

    sl_kcache_get_stats(s->kc, &st);
    sl_info("leveldb state %s: %zu keys; cache %zu of %zu bytes, %llu hits, %llu misses, "
            "%llu evicted, %llu batches written", s->path, s->count, st.bytes, st.budget,
            (unsigned long long)st.hits, (unsigned long long)st.misses,
            (unsigned long long)st.evictions, (unsigned long long)st.batches);
    leveldb_close(s->db);
    s->db = NULL;
    ldb_destroy(s->opts, s->path, 0);
    ldb_free(s);
}

/* ---- get, put, delete ------------------------------------------------ */

/* Reads s->key from leveldb into the cache (clean, or a clean tombstone);
 * *e NULL if the cache knows every key (s->key is absent). */
static int ldb_load(ldb_state *s, sl_kcache_entry **e)
{
    char *err = NULL, *v;
    size_t n = 0;
    int rv;

    *e = NULL;
    if (sl_kcache_complete(s->kc)) {
        return SL_OK;
    }
    /* glibc's malloc(0) is not NULL: a found empty value is not NULL. */
    v = leveldb_get(s->db, s->ropts, (const char *)s->key, s->klen, &n, &err);
    if (err != NULL) {
        return ldb_fail("get", s->path, err);
    }
    if (n > SL_KS_MAX_LEN) { /* we never wrote such a value */
        leveldb_free(v);
        sl_error("leveldb state %s: a stored value of %zu bytes", s->path, n);
        return SL_EIO;
    }
    rv = sl_kcache_store(s->kc, s->key, s->klen, v, n, v != NULL ? SL_KCACHE_IN_STORE : 0, e);
    leveldb_free(v);
    return rv;
}

/* *found: whether s->key exists (the cache, else one leveldb read);
 * *cached: whether the cache knows it. */
static int ldb_exists(ldb_state *s, int *found, int *cached)
{
    char *err = NULL, *v;
    size_t n = 0;
    sl_kcache_entry *e;

    *cached = sl_kcache_lookup(s->kc, s->key, s->klen, &e) == SL_OK;
    if (*cached) {
        *found = sl_kcache_entry_present(e, NULL, NULL);
        return SL_OK;
    }
    if (sl_kcache_complete(s->kc)) {
        *found = 0;
        return SL_OK;
    }
    v = leveldb_get(s->db, s->ropts, (const char *)s->key, s->klen, &n, &err);
    if (err != NULL) {
        return ldb_fail("get", s->path, err);
    }
    *found = v != NULL;
    leveldb_free(v);
    return SL_OK;
}

static int ldb_get(void *impl, int kg, const void *key, size_t klen, const void **val,
                   size_t *vlen)
{
    ldb_state *s = impl;
    sl_kcache_entry *e = NULL;
    int rv;

    if ((rv = ldb_encode(s, kg, key, klen)) != SL_OK) {
        return rv;
    }
    if (sl_kcache_lookup(s->kc, s->key, s->klen, &e) != SL_OK && (rv = ldb_load(s, &e)) != SL_OK) {
        return rv;
    }
    if (e == NULL || !sl_kcache_entry_present(e, val, vlen)) {
        return SL_ENOTFOUND;
    }
    return SL_OK;
}

/* The count follows if the cache took the change (SL_EIO: it did, but
 * writing evicted entries failed). */
static void ldb_counted(ldb_state *s, int rv, int delta)
{
    if (rv == SL_OK || rv == SL_EIO) {
        s->count = delta > 0 ? s->count + 1 : s->count - 1;
    }
}

static int ldb_put(void *impl, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    ldb_state *s = impl;
    int found, cached, rv;
    unsigned flags;

    if ((rv = ldb_encode(s, kg, key, klen)) != SL_OK ||
        (rv = ldb_exists(s, &found, &cached)) != SL_OK) {
        return rv;
    }
    /* found but not cached: leveldb has it */
    flags = SL_KCACHE_DIRTY | (found && !cached ? SL_KCACHE_IN_STORE : 0);
    /* a present value is never NULL in the cache (NULL means tombstone) */
    rv = sl_kcache_store(s->kc, s->key, s->klen, val != NULL ? val : "", vlen, flags, NULL);
    if (!found) {
        ldb_counted(s, rv, 1);
    }
    return rv;
}

static int ldb_del(void *impl, int kg, const void *key, size_t klen)
{
    ldb_state *s = impl;
    int found, cached, rv;

    if ((rv = ldb_encode(s, kg, key, klen)) != SL_OK ||
        (rv = ldb_exists(s, &found, &cached)) != SL_OK) {
        return rv;
    }
    if (!found) {
        return SL_ENOTFOUND;
    }
    rv = cached ? sl_kcache_delete(s->kc, s->key, s->klen)
                : sl_kcache_store(s->kc, s->key, s->klen, NULL, 0,
                                  SL_KCACHE_DIRTY | SL_KCACHE_IN_STORE, NULL);
    ldb_counted(s, rv, -1);
    return rv;
}

static size_t ldb_count(const void *impl)
{
    return ((const ldb_state *)impl)->count;
}

/* ---- iteration ------------------------------------------------------- */

/* Calls fn for every entry of key groups [kg_lo, kg_hi] as ropts sees the
 * database, in key order. */
static int ldb_scan(ldb_state *s, const leveldb_readoptions_t *ropts, int kg_lo, int kg_hi,
                    sl_ks_visit_fn fn, void *arg)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, ropts);
    const char start[LDB_KG_BYTES] = {(char)(kg_lo >> 8), (char)kg_lo};
    char *err = NULL;
    int rv = SL_OK;

    for (leveldb_iter_seek(it, start, sizeof(start)); leveldb_iter_valid(it) && rv == SL_OK;
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        const char *v = leveldb_iter_value(it, &vlen);
        int kg = ldb_kg_of(k, klen);
        if (kg < 0) {
            sl_error("leveldb state %s: a key of %zu bytes has no key group", s->path, klen);
            rv = SL_EIO;
        } else if (kg > kg_hi) {
            break;
        } else {
            rv = fn(arg, kg, k + LDB_KG_BYTES, klen - LDB_KG_BYTES, v, vlen);
        }
    }
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err != NULL) {
        return ldb_fail("iterate", s->path, err);
    }
    return rv;
}

/* Writes the dirty entries first: leveldb then holds the whole state. */
static int ldb_visit(void *impl, int kg, sl_ks_visit_fn fn, void *arg)
{
    ldb_state *s = impl;
    int rv = sl_kcache_flush(s->kc);

    return rv != SL_OK ? rv : ldb_scan(s, s->ropts, kg, kg, fn, arg);
}

/* Writes every dirty entry (one WriteBatch), then takes a leveldb
 * snapshot and read options that see it: the view holds everything put
 * before it. Reading it does not fill the block cache (a snapshot scan
 * would evict the hot blocks). */
static int ldb_view_open(void *impl, void **view)
{
    ldb_state *s = impl;
    ldb_view *v;
    int rv;

    if ((rv = sl_kcache_flush(s->kc)) != SL_OK) {
        return rv;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL || (v->ropts = leveldb_readoptions_create()) == NULL) {
        free(v);
        return SL_ENOMEM;
    }
    v->s = s;
    v->snap = leveldb_create_snapshot(s->db);
    leveldb_readoptions_set_snapshot(v->ropts, v->snap);
    leveldb_readoptions_set_fill_cache(v->ropts, 0);
    leveldb_readoptions_set_verify_checksums(v->ropts, 1);
    *view = v;
    return SL_OK;
}

static int ldb_view_visit(void *view, int kg_lo, int kg_hi, sl_ks_visit_fn fn, void *arg)
{
    ldb_view *v = view;
    return ldb_scan(v->s, v->ropts, kg_lo, kg_hi, fn, arg);
}

static void ldb_view_close(void *view)
{
    ldb_view *v = view;

    leveldb_readoptions_destroy(v->ropts);
    leveldb_release_snapshot(v->s->db, v->snap);
    free(v);
}

const sl_ks_ops sl_leveldb_ops = {
    .name = "leveldb",
    .open = ldb_open,
    .close = ldb_close,
    .get = ldb_get,
    .put = ldb_put,
    .del = ldb_del,
    .count = ldb_count,
    .visit = ldb_visit,
    .view_open = ldb_view_open,
    .view_visit = ldb_view_visit,
    .view_close = ldb_view_close,
};
