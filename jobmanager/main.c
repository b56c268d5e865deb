/* sluice-jobmanager [-c CONF_DIR] [-D key=value]...
 *
 * Runs in the foreground (never forks: nng must not be used across a fork;
 * the scripts background the process). SIGTERM or SIGINT stop it
 * gracefully with exit 0. A usage or configuration error ("file:line:column:
 * message") or an address no other host can dial exits 2; a failure to start
 * (port in use) exits 1. */
#include <signal.h>

#include "common/daemon.h"
#include "common/seal.h"
#include "common/tls.h"
#include "common/log.h"
#include "common/net_addr.h"
#include "jobmanager/jobmanager.h"

int main(int argc, char **argv)
{
    sl_config *cfg = NULL;
    sl_jm *jm = NULL;
    int code = sl_daemon_init("jobmanager", argc, argv, &cfg);
    if (code != 0)
        goto cleanup;
    sl_addr_endpoint ep; /* no address others can dial: exit 2 */
    char err[1024];
    if (sl_addr_jobmanager(cfg, &ep, err, sizeof(err)) != 0) {
        sl_error("jobmanager: cannot start: %s", err);
        code = 2;
        goto cleanup;
    }
    if (sl_tls_init(cfg, SL_TLS_JOBMANAGER, err, sizeof(err)) != 0 || /* bad security keys: 2 */
        sl_seal_init(cfg, err, sizeof(err)) != 0) {
        sl_error("jobmanager: cannot start: %s", err);
        code = 2;
        goto cleanup;
    }
    if (sl_jm_start(cfg, &jm) != 0) {
        sl_error("jobmanager: cannot start");
        code = 1;
        goto cleanup;
    }
    int sig = sl_daemon_wait_for_signal();
    sl_info("jobmanager stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sl_jm_stop(jm);
    sl_info("jobmanager stopped");
cleanup:
    sl_tls_fini();
    sl_config_free(cfg);
    return code;
}
