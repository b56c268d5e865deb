#include "common/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"

#define MAX_OVERRIDES 256

static int usage(const char *name)
{
    fprintf(stderr, "usage: sluice-%s [-c CONF_DIR] [-D key=value]...\n", name);
    return 2;
}

static int log_level_of(const sl_config *cfg)
{
    const char *s = "INFO";
    sl_config_get_string(cfg, "log.level", &s);
    if (strcmp(s, "DEBUG") == 0)
        return SL_LOG_DEBUG;
    if (strcmp(s, "WARN") == 0)
        return SL_LOG_WARN;
    if (strcmp(s, "ERROR") == 0)
        return SL_LOG_ERROR;
    return SL_LOG_INFO;
}

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sl_daemon_init(const char *name, int argc, char **argv, sl_config **cfg)
{
    const char *conf_dir = NULL;
    char *overrides[MAX_OVERRIDES];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            conf_dir = argv[++i];
        else if (strcmp(argv[i], "-D") == 0 && i + 1 < argc && n < MAX_OVERRIDES)
            overrides[n++] = argv[++i];
        else if (strncmp(argv[i], "-D", 2) == 0 && argv[i][2] != '\0' && n < MAX_OVERRIDES)
            overrides[n++] = argv[i] + 2;
        else
            return usage(name);
    }
    char err[1024];
    if (sl_config_new(cfg) != SL_OK)
        return 1;
    if (sl_config_load_default(*cfg, conf_dir, overrides, n, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "%s\n", err);
        sl_config_free(*cfg);
        *cfg = NULL;
        return 2;
    }
    sl_log_init(name, log_level_of(*cfg));
    block_signals();
    return 0;
}

int sl_daemon_wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}
