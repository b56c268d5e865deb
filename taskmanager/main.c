/* sluice-taskmanager: runs in the foreground (the scripts background it;
 * nng forbids forking after it started). */
#include <stdio.h>

#include "common/daemon.h"
#include "common/seal.h"
#include "common/tls.h"
#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "taskmanager/task_manager.h"

int main(int argc, char **argv)
{
    sl_config *cfg = NULL;
    int rc = sl_daemon_init("taskmanager", argc, argv, &cfg);
    if (rc != 0)
        return rc;
    sl_addr_endpoint ep; /* no reachable address to advertise: exit 2 */
    char err[1024];
    if (sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) != SL_OK ||
        sl_tls_init(cfg, SL_TLS_TASKMANAGER, err, sizeof(err)) != SL_OK ||
        sl_seal_init(cfg, err, sizeof(err)) != SL_OK) {
        sl_error("taskmanager cannot start: %s", err);
        sl_config_free(cfg);
        return 2;
    }
    sl_tm *tm = NULL;
    if (sl_tm_start(cfg, &tm) != SL_OK) {
        sl_error("taskmanager could not start");
        sl_config_free(cfg);
        return 1;
    }
    int sig = sl_daemon_wait_for_signal();
    sl_info("signal %d: stopping", sig);
    sl_tm_stop(tm);
    sl_tls_fini();
    sl_config_free(cfg);
    sl_info("taskmanager stopped");
    return 0;
}
