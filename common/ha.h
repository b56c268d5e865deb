/* High availability: what the jobmanagers, the taskmanagers and the CLI
 * share about ZooKeeper (interface.md section 8).
 *
 * Layout under <high-availability.zookeeper.path.root>/<cluster-id>:
 *   leader/latch-<10 digits>  EPHEMERAL_SEQUENTIAL, one per jobmanager that
 *                             runs for leader; data: its advertised RPC
 *                             address "host:port" ("[v6]:port"). The
 *                             lowest counter is the leader; its leader id
 *                             (fencing token) is that counter + 1, so ids
 *                             only grow and 0 means "no HA".
 *   jobs/<job id>             PERSISTENT, one per job not in a terminal
 *                             state (jobmanager/ha_store.c).
 *
 * Ownership: sl_ha_connect() returns a session owned by the caller
 * (sl_zk_close). Every call that takes an sl_zk BLOCKS on the network
 * (common/zk.h): never on the jobmanager's loop. */
#ifndef SL_HA_H
#define SL_HA_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/zk.h"

#define SL_HA_LATCH_PREFIX "latch-"
#define SL_HA_LEADER_DIR "leader"
#define SL_HA_JOBS_DIR "jobs"
#define SL_HA_ADDR_MAX 300 /* "host:port" of a jobmanager, NUL included */

/* 1 if high-availability.type is zookeeper. */
int sl_ha_enabled(const sl_config *cfg);

/* <path.root>/<cluster-id>[/sub] into buf (sub NULL or ""). SL_ENOSPC if
 * it does not fit. */
int sl_ha_path(const sl_config *cfg, const char *sub, char *buf, size_t len);

/* Connects to high-availability.zookeeper.quorum with the configured
 * session and connection timeouts. watch may be NULL (common/zk.h). */
int sl_ha_connect(const sl_config *cfg, sl_zk_watch_fn watch, void *ctx, sl_zk **out);

/* The leader id of a latch name ("latch-0000000007" -> 8); 0 if name is not
 * a latch. */
uint64_t sl_ha_latch_id(const char *name);

/* The current leader: its address (SL_HA_ADDR_MAX bytes) and leader id.
 * SL_ENOTFOUND if no jobmanager runs for leader; a latch that vanishes
 * while it is read makes it look at the next one; SL_EINVAL if the lowest
 * latch holds no address. watch: be told
 * (SL_ZK_EV_CHILDREN on the leader folder) when the candidates change.
 * Other codes: common/zk.h. */
int sl_ha_leader_read(sl_zk *zk, const sl_config *cfg, int watch, char *addr, size_t addrlen,
                      uint64_t *leader_id);

#endif
