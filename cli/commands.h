/* The commands of the `sluice` CLI (README.md, "Quick start" and `sluice --help`).
 *
 * main.c parses the global options, then: sl_cli_find_command,
 * sl_cli_parse_args (the command's own options and operands, checked against
 * its row in the command table), sl_cli_setup (jobmanager address and RPC
 * limits from the configuration) and sl_cli_exec. Each command is one
 * function that returns the process exit code and has written everything
 * the user sees: results on stdout, "sluice: ..." messages on stderr.
 *
 *   commands.c         the command table, argument parsing, setup, dispatch,
 *                      usage and error messages
 *   cmd_jobs.c         run, list, info, cancel
 *   cmd_checkpoints.c  checkpoints, checkpoint
 *   cmd_savepoints.c   savepoint (and -d), stop
 *   cmd_cluster.c      taskmanagers
 *   rpc_call.c         requests to the jobmanager and their exit codes
 *                      (rpc_call.h)
 *   leader.c           finding the leader through ZooKeeper (leader.h)
 *   output.c           output helpers the commands share (output.h)
 *   json.c             the --json writer (json.h)
 *
 * Adding a command: a row in the table in commands.c (name, short options,
 * --json or not, operand counts) and its function in the cmd_*.c file of
 * its kind. */
#ifndef SL_CLI_COMMANDS_H
#define SL_CLI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "common/limits.h"
#include "common/config.h"
#include "common/auth.h"
#include "common/rpc.h"
#include "common/zk.h"

/* Exit codes of every command. */
enum sl_cli_exit {
    SL_EXIT_OK = 0,
    SL_EXIT_FAILED = 1,      /* the operation failed or the job/id is unknown */
    SL_EXIT_USAGE = 2,       /* usage or input error */
    SL_EXIT_UNREACHABLE = 3, /* the jobmanager cannot be reached */
};

#define SL_CLI_ADDR_MAX 300
#define SL_CLI_MAX_OPERANDS 2
#define SL_CLI_MAX_OVERRIDES 256 /* -D options after the command */

/* Connection to the jobmanager; the RPC client is opened by the first call.
 * With high-availability.type zookeeper and no -m, ha_cfg is set and the
 * jobmanager is the leader read from ZooKeeper (leader.h): jm_addr is empty
 * until the first call looks it up. */
typedef struct sl_cli {
    char jm_addr[SL_CLI_ADDR_MAX];      /* HOST:PORT, as named in messages */
    char url[SL_CLI_ADDR_MAX + 8];      /* tcp://HOST:PORT */
    size_t max_msg;                     /* rpc.max-message-size */
    int timeout_ms;                     /* per RPC */
    int poll_ms;                        /* attached run: job state polling */
    const char *subject;                /* what messages are about: run's job file
                                           (NULL: they start "sluice: ") */
    sl_rpc_client *rpc;
    sl_auth_signer *signer;             /* client certificate (security.ssl.rest.cert): signs
                                           every request; NULL: none */
    _Atomic int rpc_down;               /* with ha_cfg: rpc's connection was lost */
    /* leader discovery (leader.c); ha_cfg NULL: jm_addr is fixed */
    const sl_config *ha_cfg;            /* the caller's, outlives the sl_cli */
    sl_zk *zk;                          /* opened by the first lookup */
    char ha_dir[SL_ZK_PATH_MAX];        /* <root>/<cluster-id>/leader, for messages */
    const char *zk_quorum;              /* points into ha_cfg */
    int64_t retry_ms;                   /* how long a failover may take */
} sl_cli;

/* A command's parsed arguments. Options are single lowercase letters:
 * flag['x' - 'a'] counts -x, value['x' - 'a'] is the argument of the last
 * -x (NULL if absent). Every command also takes -D key=value (as Flink's
 * CLI does after the action): overrides, in order, applied after the
 * global ones. Strings point into argv. */
typedef struct sl_cli_args {
    int json;
    int flag[26];
    const char *value[26];
    const char *operands[SL_CLI_MAX_OPERANDS];
    int noperands;
    char *overrides[SL_CLI_MAX_OVERRIDES];
    int noverrides;
} sl_cli_args;

typedef struct sl_cli_command sl_cli_command;

/* NULL if there is no such command. */
const sl_cli_command *sl_cli_find_command(const char *name);

/* Parses argv (argv[0] is the command name) into *out. Returns SL_EXIT_OK,
 * or SL_EXIT_USAGE after printing the problem. Uses getopt's globals. */
int sl_cli_parse_args(const sl_cli_command *cmd, int argc, char **argv, sl_cli_args *out);

/* Fills *cli from cfg; jm_addr (HOST:PORT from -m) overrides the configured
 * jobmanager.rpc.address/port. Without jm_addr and with HA on, the leader is
 * looked up in ZooKeeper at the first call: cfg must then outlive *cli.
 * Returns an exit code, printing any problem. */
int sl_cli_setup(sl_cli *cli, const sl_config *cfg, const char *jm_addr);
/* Closes the RPC client and the ZooKeeper session, if any. Safe on a zeroed
 * or set-up sl_cli. */
void sl_cli_close(sl_cli *cli);

/* Runs the command; returns its exit code. */
int sl_cli_exec(const sl_cli_command *cmd, sl_cli *cli, const sl_cli_args *args);

void sl_cli_usage(FILE *out);
/* Reports what getopt returned c ('?' or ':', opterr = 0, optstring
 * starting with ':') for: "sluice: [where: ]unknown option '-x'" and the
 * like. where may be NULL (global options). Returns SL_EXIT_USAGE. */
int sl_cli_option_error(const char *where, int c, char **argv);
/* Prints "sluice: <message>" and a hint to --help on stderr; returns
 * SL_EXIT_USAGE. */
int sl_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- for the command modules (defined in commands.c) */


/* 1 if s is HOST:PORT (the port 1-65535; HOST may be "[v6]"). */
int sl_cli_address_ok(const char *s);
/* Sets jm_addr and url to hostport (SL_EXIT_USAGE, said, if too long). */
int sl_cli_set_address(sl_cli *cli, const char *hostport);
/* "sluice: <message>" on stderr; returns SL_EXIT_FAILED. */
int sl_cli_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<cli->subject>: <message>" (or "sluice: <message>" without a subject)
 * on stderr; returns rc. */
int sl_cli_report(const sl_cli *cli, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How often the option c was given; the argument of its last use (NULL if
 * none). */
int sl_cli_opt_flag(const sl_cli_args *a, char c);
const char *sl_cli_opt_value(const sl_cli_args *a, char c);
/* SL_EXIT_OK if s is a JobID, else SL_EXIT_USAGE after saying so. */
int sl_cli_check_job_id(const char *s);
/* arg as an absolute path (or file:// URI as given): relative paths are
 * taken from the current directory. An exit code (problem printed). Defined
 * in cmd_savepoints.c. */
int sl_cli_abs_path(const char *arg, char *out, size_t len);

/* ---- the commands (cmd_*.c) */
int sl_cli_cmd_run(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_list(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_info(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_cancel(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_checkpoints(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_checkpoint(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_savepoint(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_stop(sl_cli *cli, const sl_cli_args *a);
int sl_cli_cmd_taskmanagers(sl_cli *cli, const sl_cli_args *a);

#endif
