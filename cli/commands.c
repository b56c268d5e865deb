/* The command table, argument parsing, setup and dispatch of the `sluice`
 * CLI, and the helpers every command shares (see commands.h). */
#include "common/limits.h"
#include "cli/commands.h"
#include "common/tls.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/leader.h"
#include "common/ha.h"
#include "common/status.h"
#include "common/util.h"

#define DEFAULT_MAX_MSG ((size_t)64 << 20)
#define RPC_TIMEOUT_MS 30000
#define POLL_MS 200
#define OPT_JSON 0x100 /* getopt value of --json: outside the char range */

struct sl_cli_command {
    const char *name;
    const char *options;      /* getopt short options, lowercase letters only */
    int json;                 /* accepts --json */
    int min_operands, max_operands;
    const char *operand_name; /* named when operands are missing */
    int (*fn)(sl_cli *cli, const sl_cli_args *a);
};

static const sl_cli_command commands[] = {
    {"run", "dp:s:n", 0, 1, 1, "JOBFILE", sl_cli_cmd_run},
    {"list", "a", 1, 0, 0, NULL, sl_cli_cmd_list},
    {"info", "", 1, 1, 1, "JOBID", sl_cli_cmd_info},
    {"cancel", "", 0, 1, 1, "JOBID", sl_cli_cmd_cancel},
    {"checkpoints", "", 1, 1, 1, "JOBID", sl_cli_cmd_checkpoints},
    {"checkpoint", "", 0, 1, 1, "JOBID", sl_cli_cmd_checkpoint},
    {"savepoint", "d:", 0, 0, 2, "JOBID", sl_cli_cmd_savepoint},
    {"stop", "p:", 0, 1, 1, "JOBID", sl_cli_cmd_stop},
    {"taskmanagers", "", 1, 0, 0, NULL, sl_cli_cmd_taskmanagers},
};

static const char usage_text[] =
    "Usage: sluice [-c CONF_DIR] [-m HOST:PORT] [-D key=value]... COMMAND [ARGS]\n"
    "  run [-d] [-p N] [-s PATH] [-n] JOBFILE   submit; -d detached, -p parallelism,\n"
    "                                           -s restore from savepoint/checkpoint,\n"
    "                                           -n allow state that maps to no operator\n"
    "  list [-a] [--json]                       running jobs; -a all jobs\n"
    "  info JOBID [--json]                      state, tasks and where they run,\n"
    "                                           restarts, latest checkpoint\n"
    "  cancel JOBID\n"
    "  checkpoints JOBID [--json]               checkpoint statistics\n"
    "  checkpoint JOBID                         trigger a checkpoint now\n"
    "  savepoint JOBID [DIR]                    trigger a savepoint\n"
    "  savepoint -d PATH                        dispose of a savepoint\n"
    "  stop [-p DIR] JOBID                      stop with a savepoint\n"
    "  taskmanagers [--json]                    registered taskmanagers\n"
    "Global options: -c the configuration folder (default $SLUICE_CONF_DIR, else conf/),\n"
    "  -m the jobmanager (default jobmanager.rpc.address:jobmanager.rpc.port; with\n"
    "  high-availability.type zookeeper, the leader, found through ZooKeeper),\n"
    "  -D override one configuration key (also after COMMAND, where it comes last).\n"
    "Exit codes: 0 done, 1 the operation failed, 2 usage or input error,\n"
    "  3 the jobmanager cannot be reached (or is not the leader, or none is).\n";

/* ---- messages */

void sl_cli_usage(FILE *out)
{
    fputs(usage_text, out);
}

int sl_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'sluice --help' for more information.\n", stderr);
    va_end(ap);
    return SL_EXIT_USAGE;
}

/* "sluice: <message>" on stderr; returns SL_EXIT_FAILED. */
int sl_cli_failed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return SL_EXIT_FAILED;
}

int sl_cli_report(const sl_cli *cli, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli->subject != NULL ? cli->subject : "sluice");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return rc;
}

int sl_cli_option_error(const char *where, int c, char **argv)
{
    char shortname[3] = {'-', (char)optopt, '\0'};
    const char *opt = (optopt > 0 && optopt < 128) ? shortname : argv[optind - 1];
    const char *sep = where != NULL ? ": " : "";
    if (where == NULL)
        where = "";
    if (c == ':')
        return sl_cli_usage_error("%s%soption '%s' needs an argument", where, sep, opt);
    return sl_cli_usage_error("%s%sunknown option '%s'", where, sep, opt);
}

/* ---- argument parsing */

const sl_cli_command *sl_cli_find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int take_operands(const sl_cli_command *cmd, int n, char **rest, sl_cli_args *out)
{
    if (n < cmd->min_operands)
        return sl_cli_usage_error("%s: missing %s", cmd->name, cmd->operand_name);
    if (n > cmd->max_operands)
        return sl_cli_usage_error("%s: unexpected argument '%s'", cmd->name,
                                  rest[cmd->max_operands]);
    for (int i = 0; i < n; i++)
        out->operands[i] = rest[i];
    out->noperands = n;
    return SL_EXIT_OK;
}

int sl_cli_parse_args(const sl_cli_command *cmd, int argc, char **argv, sl_cli_args *out)
{
    static const struct option json_options[] = {{"json", no_argument, NULL, OPT_JSON},
                                                 {NULL, 0, NULL, 0}};
    static const struct option no_options[] = {{NULL, 0, NULL, 0}};
    char optstring[32];
    int c;
    snprintf(optstring, sizeof(optstring), ":D:%s", cmd->options);
    memset(out, 0, sizeof(*out));
    optind = 0; /* glibc: full re-initialisation */
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, cmd->json ? json_options : no_options,
                            NULL)) != -1) {
        if (c == OPT_JSON) {
            out->json = 1;
        } else if (c == 'D') {
            if (out->noverrides == SL_CLI_MAX_OVERRIDES)
                return sl_cli_usage_error("%s: more than %d -D options", cmd->name,
                                          SL_CLI_MAX_OVERRIDES);
            out->overrides[out->noverrides++] = optarg;
        } else if (c >= 'a' && c <= 'z') {
            out->flag[c - 'a']++;
            out->value[c - 'a'] = optarg;
        } else {
            return sl_cli_option_error(cmd->name, c, argv);
        }
    }
    return take_operands(cmd, argc - optind, argv + optind, out);
}

int sl_cli_opt_flag(const sl_cli_args *a, char c)
{
    return a->flag[c - 'a'];
}

const char *sl_cli_opt_value(const sl_cli_args *a, char c)
{
    return a->value[c - 'a'];
}

int sl_cli_check_job_id(const char *s)
{
    if (sl_is_hex(s, SL_JOB_ID_LEN))
        return SL_EXIT_OK;
    fprintf(stderr, "sluice: invalid JobID '%s'\n", s);
    return SL_EXIT_USAGE;
}

/* ---- setup */

static size_t config_max_msg(const sl_config *cfg)
{
    int64_t v = 0;
    if (sl_config_get_bytes(cfg, "rpc.max-message-size", &v) != SL_OK || v <= 0 ||
        (uint64_t)v > SIZE_MAX)
        return DEFAULT_MAX_MSG;
    return (size_t)v;
}

int sl_cli_set_address(sl_cli *cli, const char *hostport)
{
    int n = snprintf(cli->jm_addr, sizeof(cli->jm_addr), "%s", hostport);
    int m = snprintf(cli->url, sizeof(cli->url), "tcp://%s", hostport);
    if (n < 0 || (size_t)n >= sizeof(cli->jm_addr) || m < 0 || (size_t)m >= sizeof(cli->url))
        return sl_cli_usage_error("the jobmanager address '%s' is too long", hostport);
    return SL_EXIT_OK;
}

/* The port number in s, or -1 if s is not one. */
static long parse_port(const char *s)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
        return -1;
    return v;
}

int sl_cli_address_ok(const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    return colon != NULL && colon != hostport && parse_port(colon + 1) >= 0;
}

static int address_from_arg(sl_cli *cli, const char *arg)
{
    if (!sl_cli_address_ok(arg))
        return sl_cli_usage_error("invalid jobmanager address '%s' (expected HOST:PORT)", arg);
    return sl_cli_set_address(cli, arg);
}

static int address_from_config(sl_cli *cli, const sl_config *cfg)
{
    const char *host = NULL;
    int64_t port = 0;
    char hostport[SL_CLI_ADDR_MAX];
    if (sl_config_get_string(cfg, "jobmanager.rpc.address", &host) != SL_OK || host == NULL ||
        *host == '\0') {
        fprintf(stderr, "sluice: jobmanager.rpc.address is not set\n");
        return SL_EXIT_USAGE;
    }
    if (sl_config_get_int(cfg, "jobmanager.rpc.port", &port) != SL_OK || port < 1 ||
        port > 65535) {
        fprintf(stderr, "sluice: jobmanager.rpc.port must be a port number (1-65535)\n");
        return SL_EXIT_USAGE;
    }
    int v6 = strchr(host, ':') != NULL && host[0] != '[';
    snprintf(hostport, sizeof(hostport), "%s%s%s:%" PRId64, v6 ? "[" : "", host, v6 ? "]" : "",
             port);
    return sl_cli_set_address(cli, hostport);
}

/* TLS for the connection to the jobmanager, and the client certificate
 * that signs each request when one is configured (interface.md section 9). */
static int security_setup(sl_cli *cli, const sl_config *cfg)
{
    char err[1024];
    const char *cert = NULL, *key = NULL;
    int rest = 0;
    if (sl_tls_init(cfg, SL_TLS_CLIENT, err, sizeof(err)) != SL_OK)
        return sl_cli_report(cli, SL_EXIT_USAGE, "%s", err);
    sl_config_get_bool(cfg, "security.ssl.rest.enabled", &rest);
    sl_config_get_string(cfg, "security.ssl.rest.cert", &cert);
    sl_config_get_string(cfg, "security.ssl.rest.key", &key);
    if (rest && cert != NULL && key != NULL) {
        if (sl_auth_signer_open(cert, key, &cli->signer, err, sizeof(err)) != SL_OK)
            return sl_cli_report(cli, SL_EXIT_USAGE, "security.ssl.rest.cert: %s", err);
        return SL_EXIT_OK;
    }
    /* No client certificate: on a cluster host (the scripts), the daemons'
     * own, if it can be read; it may view (common/rpc_guard.h). */
    int internal = 0;
    sl_config_get_bool(cfg, "security.ssl.internal.enabled", &internal);
    sl_config_get_string(cfg, "security.ssl.internal.cert", &cert);
    sl_config_get_string(cfg, "security.ssl.internal.key", &key);
    if (rest && internal && cert != NULL && key != NULL &&
        sl_auth_signer_open(cert, key, &cli->signer, err, sizeof(err)) != SL_OK)
        cli->signer = NULL;
    return SL_EXIT_OK;
}

int sl_cli_setup(sl_cli *cli, const sl_config *cfg, const char *jm_addr)
{
    memset(cli, 0, sizeof(*cli));
    int rc = security_setup(cli, cfg);
    if (rc != SL_EXIT_OK)
        return rc;
    cli->max_msg = config_max_msg(cfg);
    cli->timeout_ms = RPC_TIMEOUT_MS;
    cli->poll_ms = POLL_MS;
    if (jm_addr != NULL)
        return address_from_arg(cli, jm_addr);
    if (sl_ha_enabled(cfg))
        return sl_cli_ha_setup(cli, cfg);
    return address_from_config(cli, cfg);
}

void sl_cli_close(sl_cli *cli)
{
    sl_rpc_client_close(cli->rpc);
    cli->rpc = NULL;
    sl_cli_ha_close(cli);
    sl_auth_signer_free(cli->signer);
    cli->signer = NULL;
    sl_tls_fini();
}

int sl_cli_exec(const sl_cli_command *cmd, sl_cli *cli, const sl_cli_args *args)
{
    return cmd->fn(cli, args);
}
