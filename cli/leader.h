/* Finding the leader through ZooKeeper (interface.md section 8), for the
 * CLI. With high-availability.type zookeeper and no -m, every request goes
 * to the jobmanager of the lowest latch under <root>/<cluster-id>/leader
 * (common/ha.h). sl_cli_call (rpc_call.c) looks the leader up before each
 * attempt, so a command that polls (an attached run) follows a failover.
 * While a failover is in progress -- the leader named there does not listen,
 * answers STATUS_NOT_LEADER, or no latch is left after one was seen -- it
 * looks again until cli->retry_ms have passed, then reports the last
 * problem (exit 3).
 *
 * The ZooKeeper session opens at the first lookup (blocking, up to
 * high-availability.zookeeper.client.connection-timeout) and stays open
 * until sl_cli_close. While the session is not connected, or a read fails,
 * a leader found before is kept. */
#ifndef SL_CLI_LEADER_H
#define SL_CLI_LEADER_H

#include "cli/commands.h"
#include "common/config.h"

/* Not an exit code: "not final, try again" (nothing printed). */
#define SL_CLI_RETRY (-1)

/* Sets up discovery from cfg (which must outlive cli): ha_cfg, ha_dir,
 * zk_quorum, retry_ms. An exit code (problem printed). */
int sl_cli_ha_setup(sl_cli *cli, const sl_config *cfg);

/* Points cli->jm_addr/url at the current leader, closing cli->rpc when the
 * leader changed. Returns SL_EXIT_OK; SL_CLI_RETRY when a failover may be in
 * progress and last is 0; else an exit code (SL_EXIT_UNREACHABLE: no
 * leader, ZooKeeper cannot be reached) after printing the problem. */
int sl_cli_leader_lookup(sl_cli *cli, int last);

/* Ends the ZooKeeper session, if any. */
void sl_cli_ha_close(sl_cli *cli);

#endif
