/* sluice: the command-line client of the jobmanager (README.md, "Quick start").
 * This file parses the global options and dispatches; the commands live in
 * commands.c and the cmd_*.c files (see commands.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/config.h"
#include "common/log.h"

struct globals {
    const char *conf_dir; /* -c */
    const char *jm_addr;  /* -m */
    char **overrides;     /* -D, in order: the global ones, then the command's (argc + 1 slots) */
    int noverrides;
    int command;          /* index of COMMAND in argv */
    sl_config *cfg;       /* loaded by setup; lives as long as the sl_cli */
};

/* Global options stop at the first operand, the COMMAND. */
static int parse_globals(int argc, char **argv, struct globals *g)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    g->overrides = calloc((size_t)argc + 1, sizeof(char *));
    if (g->overrides == NULL) {
        fprintf(stderr, "sluice: out of memory\n");
        return SL_EXIT_FAILED;
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:c:m:D:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': g->conf_dir = optarg; break;
        case 'm': g->jm_addr = optarg; break;
        case 'D': g->overrides[g->noverrides++] = optarg; break;
        case 'h': sl_cli_usage(stderr); return SL_EXIT_USAGE;
        default: return sl_cli_option_error(NULL, c, argv);
        }
    }
    g->command = optind;
    if (optind >= argc) {
        sl_cli_usage(stderr);
        return SL_EXIT_USAGE;
    }
    return SL_EXIT_OK;
}

/* Loads the configuration into g->cfg (freed by the caller) and derives
 * the jobmanager address (or how to find the leader) from it. */
static int setup(struct globals *g, sl_cli *cli)
{
    char err[1024] = "";
    if (sl_config_new(&g->cfg) != 0) {
        fprintf(stderr, "sluice: out of memory\n");
        return SL_EXIT_FAILED;
    }
    if (sl_config_load_default(g->cfg, g->conf_dir, g->overrides, g->noverrides, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err[0] != '\0' ? err : "sluice: cannot load the configuration");
        return SL_EXIT_USAGE;
    }
    return sl_cli_setup(cli, g->cfg, g->jm_addr);
}

/* A failed write to stdout (full disk, closed pipe) must not exit 0. */
static int flush_stdout(int rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "sluice: cannot write to standard output: %s\n", strerror(errno));
    return rc == SL_EXIT_OK ? SL_EXIT_FAILED : rc;
}

int main(int argc, char **argv)
{
    struct globals g = {0};
    sl_cli cli;
    sl_cli_args args;
    const sl_cli_command *cmd = NULL;
    memset(&cli, 0, sizeof(cli));
    sl_log_init("sluice", SL_LOG_WARN);
    int rc = parse_globals(argc, argv, &g);
    if (rc == SL_EXIT_OK) {
        cmd = sl_cli_find_command(argv[g.command]);
        if (cmd == NULL)
            rc = sl_cli_usage_error("unknown command '%s'", argv[g.command]);
    }
    if (rc == SL_EXIT_OK)
        rc = sl_cli_parse_args(cmd, argc - g.command, argv + g.command, &args);
    /* -D after the command: after the global ones (room: one per argv entry). */
    for (int i = 0; rc == SL_EXIT_OK && i < args.noverrides; i++)
        g.overrides[g.noverrides++] = args.overrides[i];
    if (rc == SL_EXIT_OK)
        rc = setup(&g, &cli);
    if (rc == SL_EXIT_OK)
        rc = sl_cli_exec(cmd, &cli, &args);
    sl_cli_close(&cli);
    sl_config_free(g.cfg);
    free(g.overrides);
    return flush_stdout(rc);
}
