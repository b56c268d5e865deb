/* Where the taskmanager finds the jobmanager to register with, and the
 * fencing of jobmanager requests by leader id (interface.md section 8,
 * HA_DESIGN.md).
 *
 * high-availability.type none: the leader is jobmanager.rpc.address/port,
 * with leader id 0, for good; nothing runs.
 * zookeeper: a thread of its own owns a ZooKeeper session (sl_ha_connect;
 * ZooKeeper calls block, so never on an RPC worker or the jobmanager
 * client thread), reads the leader latch (sl_ha_leader_read, watching the
 * candidates), reads again on every watch event and every
 * SL_JMLEADER_REREAD_MS as a fallback, and connects again after its session
 * expired. While ZooKeeper cannot be reached the last leader read stays
 * the current one.
 *
 * Fencing: the highest leader id seen (atomic) is raised by what
 * ZooKeeper reports, by sl_jmleader_raise (register/heartbeat replies) and
 * by admitted requests; sl_jmleader_admit refuses an id below it.
 *
 * The client: it also holds the RPC client to the jobmanager the
 * taskmanager talks to (sl_jmleader_connect swaps it; sl_jmleader_call
 * uses it under a read lock, so a swap waits for calls in progress and
 * the old client is closed on the caller's closer, never while used).
 *
 * Thread safety: sl_jmleader_current, _reread, _raise, _admit and _fence
 * never block on the network (a mutex held only to copy, or atomics) and
 * may be called from any thread; sl_jmleader_call from any thread;
 * sl_jmleader_connect from one thread (the jobmanager client thread);
 * start and stop by the owner.
 *
 * Place: below task_manager.c; calls common/ha, common/zk, common/net_addr,
 * common/rpc, common/closer, common/config, common/log only. */
#ifndef SL_JM_LEADER_H
#define SL_JM_LEADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/closer.h"
#include "common/config.h"
#include "common/net_addr.h"
#include "common/rpc.h"
#include "common/util.h"
#include "proto/sluice.pb-c.h"

#define SL_JMLEADER_REREAD_MS 2000 /* fallback re-read of the leader without a watch event */
#define SL_JMLEADER_RETRY_MS 1000  /* wait after a failed connect to ZooKeeper */
#define SL_JMLEADER_STOP_MS 2000   /* the longest wait for the thread at stop */

typedef struct sl_jmleader sl_jmleader;

/* What sl_jmleader_current reports: a plain copy. */
typedef struct sl_jmleader_view {
    int known;                 /* 0: no jobmanager runs for leader (or none read yet) */
    char url[SL_ADDR_URL_MAX]; /* "tcp://host:port" of the leader ("" if not known) */
    uint64_t leader_id;        /* 0 without HA */
    uint64_t changes;          /* +1 at the first read and each time known, url or id change */
} sl_jmleader_view;

/* Reads the configuration (cfg is copied: the thread may outlive a
 * bounded stop) and, with HA, starts the thread. Old clients are closed on
 * closer (borrowed: must outlive l). SL_EINVAL for a bad
 * jobmanager.rpc.address, SL_ENOMEM. */
int sl_jmleader_start(const sl_config *cfg, sl_closer *closer, sl_jmleader **out);

/* 1 if high-availability.type is zookeeper. */
int sl_jmleader_ha(const sl_jmleader *l);

/* The current leader; never blocks. */
void sl_jmleader_current(sl_jmleader *l, sl_jmleader_view *out);

/* Asks the thread to read the leader again soon (a jobmanager answered
 * STATUS_NOT_LEADER); never blocks. A no-op without HA. */
void sl_jmleader_reread(sl_jmleader *l);

/* Raises the highest leader id seen to id (if higher). */
void sl_jmleader_raise(sl_jmleader *l, uint64_t id);

/* The highest leader id seen. */
uint64_t sl_jmleader_highest(const sl_jmleader *l);

/* A request carrying leader id `id`: SL_OK (and the highest seen raised to
 * id) unless id is lower than the highest seen, then SL_EBUSY and *highest
 * gets it. */
int sl_jmleader_admit(sl_jmleader *l, uint64_t id, uint64_t *highest);

/* Fencing of a request: if it is one a jobmanager sends (deploy, start,
 * cancel, trigger, notify) and sl_jmleader_admit refuses its leader id,
 * fills reply (STATUS_FAILED, "stale leader id N; the highest seen is M",
 * allocated in arena), logs rate-limited and returns 1; else 0. */
int sl_jmleader_fence(sl_jmleader *l, const Sluice__Request *req, Sluice__Reply *reply,
                      sl_arena *arena);

/* Replaces the client by one to url (NULL: none), waiting for calls in
 * progress on the old one (at most their timeout), which is then closed on
 * the closer. SL_EINVAL (message logged) if url cannot be opened: then no
 * client is left. */
int sl_jmleader_connect(sl_jmleader *l, const char *url);
/* Clients opened by later sl_jmleader_connect calls sign registrations
 * with signer (security.ssl.internal: the taskmanager's certificate).
 * Not owned; must outlive l. Call before the first connect. */
void sl_jmleader_set_signer(sl_jmleader *l, sl_auth_signer *signer);

/* 1 if a client is open; its url into url (len bytes, "" if none). */
int sl_jmleader_connected(sl_jmleader *l, char *url, size_t len);

/* sl_rpc_call on the client (SL_EUNREACH if there is none); the client's
 * url into url (len bytes) for messages. */
int sl_jmleader_call(sl_jmleader *l, const Sluice__Request *req, int timeout_ms,
                     Sluice__Reply **out, char *url, size_t len);

/* "tcp://host:port" from a latch's data "host:port" ("[v6]:port"): only a
 * host of name/address characters (at most SL_ADDR_HOST_MAX) and a port
 * 1..65535; SL_EINVAL otherwise, SL_ENOSPC if url is too small. */
int sl_jmleader_url_of(const char *hostport, char *url, size_t len);

/* Closes the client (callers of sl_jmleader_call are gone), stops the
 * thread: waits for it up to SL_JMLEADER_STOP_MS (a ZooKeeper call
 * in progress blocks up to the session or connection timeout); if it is
 * still busy then, it frees everything itself when its call returns. */
void sl_jmleader_stop(sl_jmleader *l);

#endif
