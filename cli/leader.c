/* The CLI finds the leader through ZooKeeper (see leader.h). */
#include "cli/leader.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/ha.h"
#include "common/log.h"
#include "common/status.h"

#define FAILOVER_MIN_MS 10000 /* the least time a failover is given */

int sl_cli_ha_setup(sl_cli *cli, const sl_config *cfg)
{
    int64_t session_ms = 0;
    if (sl_ha_path(cfg, SL_HA_LEADER_DIR, cli->ha_dir, sizeof(cli->ha_dir)) != SL_OK) {
        fprintf(stderr, "sluice: high-availability.zookeeper.path.root and "
                        "high-availability.cluster-id make a ZooKeeper path that is too long\n");
        return SL_EXIT_USAGE;
    }
    cli->zk_quorum = "";
    sl_config_get_string(cfg, "high-availability.zookeeper.quorum", &cli->zk_quorum);
    if (cli->zk_quorum == NULL || *cli->zk_quorum == '\0') {
        fprintf(stderr, "sluice: high-availability.type is zookeeper but "
                        "high-availability.zookeeper.quorum is not set\n");
        return SL_EXIT_USAGE;
    }
    /* A dead leader's latch lives until its session times out. */
    sl_config_get_ms(cfg, "high-availability.zookeeper.client.session-timeout", &session_ms);
    cli->retry_ms = session_ms > FAILOVER_MIN_MS ? session_ms : FAILOVER_MIN_MS;
    cli->ha_cfg = cfg;
    return SL_EXIT_OK;
}

void sl_cli_ha_close(sl_cli *cli)
{
    sl_zk_close(cli->zk);
    cli->zk = NULL;
}

static int connect_failed(const sl_cli *cli, int rv)
{
    char reason[128];
    int64_t ms = 0;
    switch (rv) {
    case SL_ETIMEDOUT:
        sl_config_get_ms(cli->ha_cfg, "high-availability.zookeeper.client.connection-timeout",
                         &ms);
        snprintf(reason, sizeof(reason), "no session within %" PRId64 " ms", ms);
        break;
    case SL_ECLOSED: snprintf(reason, sizeof(reason), "the session was refused"); break;
    default: snprintf(reason, sizeof(reason), "%s", sl_strerror(rv)); break;
    }
    return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                         "cannot reach ZooKeeper at %s to find the leader under %s: %s",
                         cli->zk_quorum, cli->ha_dir, reason);
}

static int read_failed(const sl_cli *cli, int rv)
{
    if (rv == SL_ENOTFOUND)
        return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                             "no leader is elected: ZooKeeper at %s lists no jobmanager under %s",
                             cli->zk_quorum, cli->ha_dir);
    if (rv == SL_EINVAL)
        return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                             "the leader's latch under %s (ZooKeeper at %s) holds no address",
                             cli->ha_dir, cli->zk_quorum);
    return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                         "cannot read the leader under %s from ZooKeeper at %s: %s", cli->ha_dir,
                         cli->zk_quorum, sl_strerror(rv));
}

/* The jobmanager to talk to is now addr. */
static int point_at(sl_cli *cli, const char *addr)
{
    if (strcmp(addr, cli->jm_addr) == 0)
        return SL_EXIT_OK;
    if (!sl_cli_address_ok(addr))
        return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                             "the leader's latch under %s (ZooKeeper at %s) holds '%s', not "
                             "HOST:PORT",
                             cli->ha_dir, cli->zk_quorum, addr);
    sl_rpc_client_close(cli->rpc);
    cli->rpc = NULL;
    return sl_cli_set_address(cli, addr);
}

int sl_cli_leader_lookup(sl_cli *cli, int last)
{
    char addr[SL_HA_ADDR_MAX];
    uint64_t id = 0;
    int known = cli->jm_addr[0] != '\0';
    if (cli->zk == NULL) {
        /* The client library's own lines (a warning per connection attempt)
         * would bury the one line that says what is wrong. */
        sl_log_init("sluice", SL_LOG_ERROR);
        int rv = sl_ha_connect(cli->ha_cfg, NULL, NULL, &cli->zk);
        if (rv != SL_OK) {
            cli->zk = NULL;
            return known ? SL_EXIT_OK : connect_failed(cli, rv);
        }
    }
    /* Rather the leader found before than a wait on a lost connection. */
    if (known && sl_zk_state(cli->zk) != SL_ZK_CONNECTED)
        return SL_EXIT_OK;
    int rv = sl_ha_leader_read(cli->zk, cli->ha_cfg, 0, addr, sizeof(addr), &id);
    if (rv == SL_OK)
        return point_at(cli, addr);
    if (rv == SL_ECLOSED) /* expired: a new session next time */
        sl_cli_ha_close(cli);
    if (known && (rv == SL_ENOTFOUND || rv == SL_EINVAL))
        return last ? read_failed(cli, rv) : SL_CLI_RETRY; /* between two leaders */
    if (known && (rv == SL_EUNREACH || rv == SL_ECLOSED))
        return SL_EXIT_OK;
    return read_failed(cli, rv);
}
