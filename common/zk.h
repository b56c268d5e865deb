/* ZooKeeper client: one session with a quorum, over the C client library
 * (libzookeeper_mt), for high availability (interface.md section 8).
 *
 * Every call except sl_zk_state() and sl_zk_session_id() BLOCKS on the
 * network (up to the session timeout when the quorum is unreachable): never
 * call them on the jobmanager's decision loop, which must not wait on the
 * network; run them on a thread of their own (a later step of issue 13
 * gives them one).
 *
 * Ownership and lifetime: sl_zk_connect() returns a handle owned by the
 * caller, released with sl_zk_close() (which also ends the session: its
 * ephemeral nodes go at once). The client library runs two threads per
 * handle; the watch callback runs on its event thread, must not block and
 * must not call sl_zk_close(). Data and name buffers are the caller's;
 * sl_zk_children() returns a list the caller frees with
 * sl_zk_children_free(). Calls on one handle may come from several
 * threads (the library serializes them).
 *
 * Paths are absolute ZooKeeper paths ("/sluice/default/leader"), at most
 * SL_ZK_PATH_MAX bytes. Status codes (common/status.h), the same for every
 * call:
 *   SL_ENOTFOUND  the node (or, for create, its parent) does not exist
 *   SL_EEXIST     create: the node exists; delete: it has children
 *   SL_EBUSY      a version that does not match (compare-and-set lost)
 *   SL_ENOSPC     the node's data does not fit the caller's buffer
 *   SL_EUNREACH   connection lost or timed out: the outcome of a write is
 *                 unknown (it may have happened)
 *   SL_ECLOSED    the session expired (or authentication failed): the
 *                 handle is dead, every ephemeral node of it is gone;
 *                 close it and connect again
 *   SL_EINVAL     bad arguments (a malformed path, data too large)
 *   SL_EIO        any other error of ZooKeeper (logged with its text) */
#ifndef SL_ZK_H
#define SL_ZK_H

#include <stddef.h>
#include <stdint.h>

#define SL_ZK_PATH_MAX 1024 /* longest path accepted or returned */
/* Largest node data: below ZooKeeper's jute.maxbuffer (0xfffff bytes per
 * request, path and header included), which a server enforces by dropping
 * the connection. Larger things belong in high-availability.storageDir. */
#define SL_ZK_DATA_MAX (1024 * 1024 - 8192)

typedef struct sl_zk sl_zk;

/* What sl_zk_state() reads: set by the client's event thread. */
enum sl_zk_state {
    SL_ZK_CONNECTING, /* no server reached yet, or reconnecting: the session may still live */
    SL_ZK_CONNECTED,
    SL_ZK_EXPIRED, /* the session is gone for good (or authentication failed) */
};

enum sl_zk_mode {
    SL_ZK_PERSISTENT,
    SL_ZK_EPHEMERAL,            /* removed when the session ends */
    SL_ZK_EPHEMERAL_SEQUENTIAL, /* the server appends a 10-digit counter to the name */
};

/* What a watch or the session reports to the watch callback. */
enum sl_zk_event {
    SL_ZK_EV_CREATED,
    SL_ZK_EV_DELETED,
    SL_ZK_EV_CHANGED,  /* the node's data */
    SL_ZK_EV_CHILDREN, /* the node's children */
    SL_ZK_EV_SESSION,  /* the session state changed: read sl_zk_state(); path is "" */
};

/* Runs on the client's event thread; path is valid only during the call. */
typedef void (*sl_zk_watch_fn)(void *ctx, int event, const char *path);

struct sl_zk_opts {
    const char *quorum;          /* "host:port[,host:port...]" */
    int64_t session_timeout_ms;  /* asked of the server, which bounds it by its tickTime */
    int64_t connect_timeout_ms;  /* how long sl_zk_connect waits for the first connection */
    sl_zk_watch_fn watch;        /* may be NULL */
    void *watch_ctx;
};

/* Connects and waits (up to connect_timeout_ms) until the session is
 * established. SL_ETIMEDOUT if no server answered in time, SL_EINVAL on a
 * bad quorum string, SL_ECLOSED if the session was refused. */
int sl_zk_connect(const struct sl_zk_opts *opts, sl_zk **out);

/* Ends the session and frees the handle (NULL is a no-op). Blocks until the
 * library's threads are gone. */
void sl_zk_close(sl_zk *zk);

/* Never blocks. */
int sl_zk_state(const sl_zk *zk);
/* The session id (0 before the first connection); never blocks. */
int64_t sl_zk_session_id(const sl_zk *zk);
/* The session timeout the server granted (it bounds the one asked for by
 * its tickTime); before the first connection, the one asked for. Never
 * blocks. */
int64_t sl_zk_session_timeout_ms(const sl_zk *zk);

/* Creates path with data (len bytes, at most SL_ZK_DATA_MAX) and mode,
 * creating missing parents as empty persistent nodes first. The name the
 * server gave (for sequential nodes, with its counter) is written to
 * created (created_len bytes, NUL-terminated; SL_ENOSPC if it does not fit,
 * though the node was created) unless created is NULL. */
int sl_zk_create(sl_zk *zk, const char *path, const void *data, size_t len, int mode,
                 char *created, size_t created_len);

/* Reads the node's data into buf (cap bytes); *len gets its length and
 * *version (if not NULL) its data version. SL_ENOSPC (with *len the size
 * needed) if it does not fit. A node with no data reads as length 0.
 * watch: also be told (SL_ZK_EV_CHANGED / SL_ZK_EV_DELETED) of its next
 * change. */
int sl_zk_get(sl_zk *zk, const char *path, int watch, void *buf, size_t cap, size_t *len,
              int32_t *version);

/* Replaces the data if the node's version is `version` (compare-and-set;
 * -1: any version). *new_version (if not NULL) gets the version after. */
int sl_zk_set(sl_zk *zk, const char *path, const void *data, size_t len, int32_t version,
              int32_t *new_version);

/* Deletes the node if its version is `version` (-1: any). */
int sl_zk_delete(sl_zk *zk, const char *path, int32_t version);

/* SL_OK if the node exists, SL_ENOTFOUND if not; *version (if not NULL)
 * gets its data version. watch: also be told of its creation, deletion or
 * change. */
int sl_zk_exists(sl_zk *zk, const char *path, int watch, int32_t *version);

/* The names (not paths) of the node's children, sorted (byte order: for
 * sequential nodes of one prefix, creation order). *names is an array of
 * *count strings, owned by the caller (sl_zk_children_free). watch: also be
 * told of the next change of the children. */
int sl_zk_children(sl_zk *zk, const char *path, int watch, char ***names, size_t *count);
void sl_zk_children_free(char **names, size_t count);

#endif
