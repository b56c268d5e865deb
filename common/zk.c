/* ZooKeeper client over libzookeeper_mt's synchronous calls: see zk.h. */
#define THREADED 1 /* zookeeper.h declares the synchronous zoo_* calls only for the mt library */
#include "common/zk.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

#define ZK_SEQ_SUFFIX 16        /* room for the server's 10-digit counter and the NUL */
#define ZK_LOG_LINE 1024        /* longest client-library log line we pass on */
#define ZK_CHILDREN_MAX 1000000 /* more children than any Sluice node can have */

struct sl_zk {
    zhandle_t *zh;
    pthread_mutex_t mu; /* guards nothing but the wait for the first connection */
    pthread_cond_t cv;
    _Atomic int state;
    _Atomic int64_t session_id;
    sl_zk_watch_fn watch;
    void *watch_ctx;
};

/* ------------------------------------------------------------ library log */

/* The library's lines ("<date>:<pid>(<thread>):ZOO_ERROR@fn@line: text")
 * without its own time stamp, rate-limited: while no server answers it
 * writes two lines per connection attempt, every few tens of ms. */
static void zk_log_line(const char *message)
{
    char line[ZK_LOG_LINE];
    const char *at = strstr(message, "):ZOO_");
    if (at)
        message = at + 2;
    size_t n = strnlen(message, sizeof line - 1);
    memcpy(line, message, n);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    line[n] = '\0';
    sl_warn_limited("zookeeper client: %s", line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void set_library_log_level(void)
{
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); /* process-wide; INFO is one line per packet state */
}

/* ------------------------------------------------------------ status */

static int zk_status(int rc, const char *what, const char *path)
{
    switch (rc) {
    case ZOK: return SL_OK;
    case ZNONODE: return SL_ENOTFOUND;
    case ZNODEEXISTS:
    case ZNOTEMPTY: return SL_EEXIST;
    case ZBADVERSION: return SL_EBUSY;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: return SL_EUNREACH;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZAUTHFAILED: return SL_ECLOSED;
    case ZBADARGUMENTS:
    case ZNOCHILDRENFOREPHEMERALS: return SL_EINVAL;
    default:
        sl_warn("zookeeper: %s %s: %s (%d)", what, path, zerror(rc), rc);
        return SL_EIO;
    }
}

static int path_ok(const char *path)
{
    return path && path[0] == '/' && strnlen(path, SL_ZK_PATH_MAX + 1) <= SL_ZK_PATH_MAX;
}

/* ------------------------------------------------------------ session */

static int map_session_state(int state, int old)
{
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE)
        return SL_ZK_CONNECTED;
    if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
        return SL_ZK_EXPIRED;
    return old == SL_ZK_EXPIRED ? SL_ZK_EXPIRED : SL_ZK_CONNECTING;
}

static int map_event(int type)
{
    if (type == ZOO_CREATED_EVENT)
        return SL_ZK_EV_CREATED;
    if (type == ZOO_DELETED_EVENT)
        return SL_ZK_EV_DELETED;
    if (type == ZOO_CHANGED_EVENT)
        return SL_ZK_EV_CHANGED;
    if (type == ZOO_CHILD_EVENT)
        return SL_ZK_EV_CHILDREN;
    return -1;
}

/* The global watcher: runs on the library's event thread. */
static void on_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct sl_zk *zk = ctx;
    int ev = SL_ZK_EV_SESSION;
    if (type == ZOO_SESSION_EVENT) {
        int now = map_session_state(state, atomic_load(&zk->state));
        if (now == SL_ZK_CONNECTED) {
            const clientid_t *id = zoo_client_id(zh);
            if (id)
                atomic_store(&zk->session_id, id->client_id);
        }
        pthread_mutex_lock(&zk->mu);
        atomic_store(&zk->state, now);
        pthread_cond_broadcast(&zk->cv);
        pthread_mutex_unlock(&zk->mu);
        path = "";
    } else if ((ev = map_event(type)) < 0) {
        return; /* ZOO_NOTWATCHING_EVENT: a watch was dropped */
    }
    if (zk->watch)
        zk->watch(zk->watch_ctx, ev, path ? path : "");
}

static int wait_connected(struct sl_zk *zk, int64_t timeout_ms)
{
    struct timespec until;
    int rc = 0;
    sl_deadline_in(CLOCK_MONOTONIC, timeout_ms, &until);
    pthread_mutex_lock(&zk->mu);
    while (atomic_load(&zk->state) == SL_ZK_CONNECTING && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&zk->cv, &zk->mu, &until);
    int state = atomic_load(&zk->state);
    pthread_mutex_unlock(&zk->mu);
    if (state == SL_ZK_CONNECTED)
        return SL_OK;
    return state == SL_ZK_EXPIRED ? SL_ECLOSED : SL_ETIMEDOUT;
}

static int init_sync(struct sl_zk *zk)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return SL_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&zk->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return SL_ENOMEM;
    if (pthread_mutex_init(&zk->mu, NULL) != 0) {
        pthread_cond_destroy(&zk->cv);
        return SL_ENOMEM;
    }
    return SL_OK;
}

int sl_zk_connect(const struct sl_zk_opts *opts, sl_zk **out)
{
    if (!opts || !out || !opts->quorum || !opts->quorum[0] || opts->session_timeout_ms <= 0 ||
        opts->session_timeout_ms > INT_MAX || opts->connect_timeout_ms <= 0)
        return SL_EINVAL;
    struct sl_zk *zk = calloc(1, sizeof *zk);
    if (!zk)
        return SL_ENOMEM;
    if (init_sync(zk) != SL_OK) {
        free(zk);
        return SL_ENOMEM;
    }
    zk->watch = opts->watch;
    zk->watch_ctx = opts->watch_ctx;
    atomic_init(&zk->state, SL_ZK_CONNECTING);
    atomic_init(&zk->session_id, 0);
    pthread_once(&log_once, set_library_log_level);
    zk->zh = zookeeper_init2(opts->quorum, on_event, (int)opts->session_timeout_ms, NULL, zk, 0,
                             zk_log_line);
    if (!zk->zh) {
        int rc = errno == EINVAL ? SL_EINVAL : SL_EIO;
        sl_warn("zookeeper: cannot start a session with %s: %s", opts->quorum, strerror(errno));
        sl_zk_close(zk);
        return rc;
    }
    int rc = wait_connected(zk, opts->connect_timeout_ms);
    if (rc != SL_OK) {
        sl_warn("zookeeper: no session with %s within %lld ms: %s", opts->quorum,
                (long long)opts->connect_timeout_ms, sl_strerror(rc));
        sl_zk_close(zk);
        return rc;
    }
    *out = zk;
    return SL_OK;
}

void sl_zk_close(sl_zk *zk)
{
    if (!zk)
        return;
    if (zk->zh)
        zookeeper_close(zk->zh);
    pthread_cond_destroy(&zk->cv);
    pthread_mutex_destroy(&zk->mu);
    free(zk);
}

int sl_zk_state(const sl_zk *zk)
{
    return zk ? atomic_load(&((sl_zk *)zk)->state) : SL_ZK_EXPIRED;
}

int64_t sl_zk_session_id(const sl_zk *zk)
{
    return zk ? atomic_load(&((sl_zk *)zk)->session_id) : 0;
}

int64_t sl_zk_session_timeout_ms(const sl_zk *zk)
{
    return zk && zk->zh ? (int64_t)zoo_recv_timeout(zk->zh) : 0;
}

/* ------------------------------------------------------------ nodes */

static int zoo_mode(int mode, int *out)
{
    if (mode == SL_ZK_PERSISTENT)
        *out = ZOO_PERSISTENT;
    else if (mode == SL_ZK_EPHEMERAL)
        *out = ZOO_EPHEMERAL;
    else if (mode == SL_ZK_EPHEMERAL_SEQUENTIAL)
        *out = ZOO_EPHEMERAL_SEQUENTIAL;
    else
        return SL_EINVAL;
    return SL_OK;
}

/* Creates every missing ancestor of path as an empty persistent node. */
static int create_parents(sl_zk *zk, const char *path)
{
    char prefix[SL_ZK_PATH_MAX + 1];
    size_t n = strlen(path);
    memcpy(prefix, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (prefix[i] != '/')
            continue;
        prefix[i] = '\0';
        int rc = zoo_create(zk->zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                            0);
        prefix[i] = '/';
        if (rc != ZOK && rc != ZNODEEXISTS)
            return zk_status(rc, "create parent of", path);
    }
    return SL_OK;
}

int sl_zk_create(sl_zk *zk, const char *path, const void *data, size_t len, int mode,
                 char *created, size_t created_len)
{
    char name[SL_ZK_PATH_MAX + ZK_SEQ_SUFFIX];
    int zmode = 0;
    if (!zk || !path_ok(path) || (!data && len > 0) || len > SL_ZK_DATA_MAX ||
        zoo_mode(mode, &zmode) != SL_OK)
        return SL_EINVAL;
    int vlen = data ? (int)len : -1;
    int rc = zoo_create(zk->zh, path, data, vlen, &ZOO_OPEN_ACL_UNSAFE, zmode, name, sizeof name);
    if (rc == ZNONODE) {
        int prc = create_parents(zk, path);
        if (prc != SL_OK)
            return prc;
        rc = zoo_create(zk->zh, path, data, vlen, &ZOO_OPEN_ACL_UNSAFE, zmode, name, sizeof name);
    }
    if (rc != ZOK)
        return zk_status(rc, "create", path);
    size_t n = strnlen(name, sizeof name);
    if (n >= sizeof name - 1)
        return SL_EPROTO; /* the library truncated the name: longer than a path plus counter */
    if (created) {
        if (n + 1 > created_len)
            return SL_ENOSPC;
        memcpy(created, name, n + 1);
    }
    return SL_OK;
}

int sl_zk_get(sl_zk *zk, const char *path, int watch, void *buf, size_t cap, size_t *len,
              int32_t *version)
{
    char dummy;
    struct Stat st;
    if (!zk || !path_ok(path) || !len || (!buf && cap > 0))
        return SL_EINVAL;
    int blen = cap > INT_MAX ? INT_MAX : (int)cap;
    int rc = zoo_get(zk->zh, path, watch != 0, buf ? buf : &dummy, &blen, &st);
    if (rc != ZOK)
        return zk_status(rc, "get", path);
    if (st.dataLength < 0 || st.dataLength > SL_ZK_DATA_MAX)
        return SL_EPROTO;
    *len = (size_t)st.dataLength;
    if (version)
        *version = st.version;
    if ((size_t)st.dataLength > cap)
        return SL_ENOSPC; /* the library copied only cap bytes */
    if (blen > 0 && blen != st.dataLength)
        return SL_EPROTO;
    return SL_OK;
}

int sl_zk_set(sl_zk *zk, const char *path, const void *data, size_t len, int32_t version,
              int32_t *new_version)
{
    struct Stat st;
    if (!zk || !path_ok(path) || (!data && len > 0) || len > SL_ZK_DATA_MAX || version < -1)
        return SL_EINVAL;
    int rc = zoo_set2(zk->zh, path, data, data ? (int)len : -1, version, &st);
    if (rc != ZOK)
        return zk_status(rc, "set", path);
    if (new_version)
        *new_version = st.version;
    return SL_OK;
}

int sl_zk_delete(sl_zk *zk, const char *path, int32_t version)
{
    if (!zk || !path_ok(path) || version < -1)
        return SL_EINVAL;
    return zk_status(zoo_delete(zk->zh, path, version), "delete", path);
}

int sl_zk_exists(sl_zk *zk, const char *path, int watch, int32_t *version)
{
    struct Stat st;
    if (!zk || !path_ok(path))
        return SL_EINVAL;
    int rc = zoo_exists(zk->zh, path, watch != 0, &st);
    if (rc == ZOK && version)
        *version = st.version;
    return rc == ZNONODE ? SL_ENOTFOUND : zk_status(rc, "exists", path);
}

/* ------------------------------------------------------------ children */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sl_zk_children_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* Copies the library's vector into a sorted array of our own. */
static int copy_names(const struct String_vector *sv, char ***names, size_t *count)
{
    if (sv->count < 0 || sv->count > ZK_CHILDREN_MAX || (sv->count > 0 && !sv->data))
        return SL_EPROTO;
    size_t n = (size_t)sv->count;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = sv->data[i];
        if (!s || strnlen(s, SL_ZK_PATH_MAX + 1) > SL_ZK_PATH_MAX) {
            sl_zk_children_free(v, n);
            return SL_EPROTO;
        }
        if (!(v[i] = strdup(s))) {
            sl_zk_children_free(v, n);
            return SL_ENOMEM;
        }
    }
    qsort(v, n, sizeof *v, by_name);
    *names = v;
    *count = n;
    return SL_OK;
}

int sl_zk_children(sl_zk *zk, const char *path, int watch, char ***names, size_t *count)
{
    struct String_vector sv = {0, NULL};
    if (!zk || !path_ok(path) || !names || !count)
        return SL_EINVAL;
    int rc = zoo_get_children(zk->zh, path, watch != 0, &sv);
    if (rc != ZOK)
        return zk_status(rc, "get children of", path);
    rc = copy_names(&sv, names, count);
    deallocate_String_vector(&sv);
    return rc;
}
