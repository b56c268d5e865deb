/* What both daemons share at start-up: `-c CONF_DIR` and `-D key=value`
 * arguments, configuration loading (errors: message on stderr, exit 2),
 * log set-up, and waiting for SIGTERM/SIGINT. */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include "common/config.h"

/* Parses argv, loads the configuration into *cfg (caller frees) and sets up
 * logging under `name`. Returns 0, or the exit code to leave with (2 for
 * usage and configuration errors). Blocks SIGTERM/SIGINT/SIGPIPE in the
 * calling thread so threads created afterwards inherit the mask. */
int sl_daemon_init(const char *name, int argc, char **argv, sl_config **cfg);
/* Waits until SIGTERM or SIGINT arrives; returns the signal number. */
int sl_daemon_wait_for_signal(void);

#endif
