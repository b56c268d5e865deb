#include "cli/commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/json.h"
#include "common/status.h"
#include "common/util.h"

#define JOB_ID_LEN 32
#define REQUEST_ID_BYTES 16
#define JOB_FILE_MAX ((size_t)16 << 20)
#define DEFAULT_MAX_MSG ((size_t)64 << 20)
#define RPC_TIMEOUT_MS 30000
#define POLL_MS 200
#define CHECKPOINT_POLL_MS 100
#define CHECKPOINT_WAIT_MS (10 * 60 * 1000)
#define CHECKPOINT_APPEAR_MS 5000 /* a triggered checkpoint must be listed by then */
#define MAX_PARALLELISM 32768
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
    "  -m the jobmanager (default jobmanager.rpc.address:jobmanager.rpc.port),\n"
    "  -D override one configuration key.\n"
    "Exit codes: 0 done, 1 the operation failed, 2 usage or input error,\n"
    "  3 the jobmanager cannot be reached.\n";

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
static int failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int failed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return SL_EXIT_FAILED;
}

static int not_supported(const char *what)
{
    return failed("'%s' is not supported yet", what);
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
    snprintf(optstring, sizeof(optstring), ":%s", cmd->options);
    memset(out, 0, sizeof(*out));
    optind = 0; /* glibc: full re-initialisation */
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, cmd->json ? json_options : no_options,
                            NULL)) != -1) {
        if (c == OPT_JSON) {
            out->json = 1;
        } else if (c >= 'a' && c <= 'z') {
            out->flag[c - 'a']++;
            out->value[c - 'a'] = optarg;
        } else {
            return sl_cli_option_error(cmd->name, c, argv);
        }
    }
    return take_operands(cmd, argc - optind, argv + optind, out);
}

static int opt_flag(const sl_cli_args *a, char c)
{
    return a->flag[c - 'a'];
}

static const char *opt_value(const sl_cli_args *a, char c)
{
    return a->value[c - 'a'];
}

static int check_job_id(const char *s)
{
    if (sl_is_hex(s, JOB_ID_LEN))
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

static int set_address(sl_cli *cli, const char *hostport)
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

static int address_from_arg(sl_cli *cli, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (colon == NULL || colon == arg || parse_port(colon + 1) < 0)
        return sl_cli_usage_error("invalid jobmanager address '%s' (expected HOST:PORT)", arg);
    return set_address(cli, arg);
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
    return set_address(cli, hostport);
}

int sl_cli_setup(sl_cli *cli, const sl_config *cfg, const char *jm_addr)
{
    memset(cli, 0, sizeof(*cli));
    cli->max_msg = config_max_msg(cfg);
    cli->timeout_ms = RPC_TIMEOUT_MS;
    cli->poll_ms = POLL_MS;
    if (jm_addr != NULL)
        return address_from_arg(cli, jm_addr);
    return address_from_config(cli, cfg);
}

void sl_cli_close(sl_cli *cli)
{
    sl_rpc_client_close(cli->rpc);
    cli->rpc = NULL;
}

int sl_cli_exec(const sl_cli_command *cmd, sl_cli *cli, const sl_cli_args *args)
{
    return cmd->fn(cli, args);
}

/* ---- talking to the jobmanager */

static int unreachable(const sl_cli *cli, const char *reason)
{
    fprintf(stderr, "sluice: cannot reach the jobmanager at %s: %s\n", cli->jm_addr, reason);
    return SL_EXIT_UNREACHABLE;
}

/* The reason in an sl_rpc_client_open message, without its "cannot reach
 * <url>: " (our own message names the address already). */
static const char *dial_reason(const sl_cli *cli, const char *err)
{
    char prefix[sizeof(cli->url) + 32];
    snprintf(prefix, sizeof(prefix), "cannot reach %s: ", cli->url);
    size_t n = strlen(prefix);
    return strncmp(err, prefix, n) == 0 ? err + n : err;
}

static int connect_jm(sl_cli *cli)
{
    char err[512] = "";
    if (cli->rpc != NULL)
        return SL_EXIT_OK;
    int rv = sl_rpc_client_open(cli->url, 1, cli->max_msg, NULL, NULL, &cli->rpc, err,
                                sizeof(err));
    if (rv == SL_OK)
        return SL_EXIT_OK;
    cli->rpc = NULL;
    if (rv == SL_ENOMEM)
        return failed("out of memory");
    return unreachable(cli, err[0] != '\0' ? dial_reason(cli, err) : sl_strerror(rv));
}

static int call_error(const sl_cli *cli, int rv, const Sluice__Request *req)
{
    char reason[64];
    switch (rv) {
    case SL_ETIMEDOUT:
        snprintf(reason, sizeof(reason), "no reply within %d s", cli->timeout_ms / 1000);
        return unreachable(cli, reason);
    case SL_EUNREACH:
    case SL_ECLOSED:
        return unreachable(cli, "the connection was lost");
    case SL_ENOSPC:
        fprintf(stderr, "sluice: the request is too large (%zu bytes, rpc.max-message-size is %zu)\n",
                sluice__request__get_packed_size(req), cli->max_msg);
        return SL_EXIT_USAGE;
    case SL_EPROTO:
        return failed("the jobmanager at %s sent a malformed reply", cli->jm_addr);
    }
    return failed("the request to the jobmanager failed: %s", sl_strerror(rv));
}

/* Reports a reply whose status is not OK; returns the exit code. */
static int reply_error(const Sluice__Reply *reply)
{
    const char *err = reply->error != NULL ? reply->error : "";
    switch (reply->status) {
    case SLUICE__STATUS__STATUS_FAILED:
        return failed("%s", *err != '\0' ? err : "the operation failed");
    case SLUICE__STATUS__STATUS_INVALID:
        fprintf(stderr, "%s\n", *err != '\0' ? err : "sluice: the jobmanager rejected the request");
        return SL_EXIT_USAGE;
    default:
        return failed("the jobmanager answered with an unknown status %d", (int)reply->status);
    }
}

/* Sends req. On STATUS_OK, *out holds the reply (caller frees with
 * sluice__reply__free_unpacked) and the result is SL_EXIT_OK; otherwise the
 * problem has been printed, *out is NULL and the exit code is returned. */
static int call(sl_cli *cli, const Sluice__Request *req, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    *out = NULL;
    int rc = connect_jm(cli);
    if (rc != SL_EXIT_OK)
        return rc;
    int rv = sl_rpc_call(cli->rpc, req, cli->timeout_ms, &reply);
    if (rv != SL_OK)
        return call_error(cli, rv, req);
    rc = reply->status == SLUICE__STATUS__STATUS_OK ? SL_EXIT_OK : reply_error(reply);
    if (rc == SL_EXIT_OK)
        *out = reply;
    else
        sluice__reply__free_unpacked(reply, NULL);
    return rc;
}

static void free_reply(Sluice__Reply *reply)
{
    if (reply != NULL)
        sluice__reply__free_unpacked(reply, NULL);
}

/* A JobRef request: which is SLUICE__REQUEST__BODY_JOB_INFO, _CANCEL_JOB,
 * _CHECKPOINT_STATS or _TRIGGER_CHECKPOINT_NOW. */
static int call_job_ref(sl_cli *cli, Sluice__Request__BodyCase which, const char *job_id,
                        Sluice__Reply **out)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__JobRef ref = SLUICE__JOB_REF__INIT;
    ref.job_id = (char *)job_id;
    req.body_case = which;
    switch (which) {
    case SLUICE__REQUEST__BODY_CANCEL_JOB: req.cancel_job = &ref; break;
    case SLUICE__REQUEST__BODY_CHECKPOINT_STATS: req.checkpoint_stats = &ref; break;
    case SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW: req.trigger_checkpoint_now = &ref; break;
    default: req.job_info = &ref; break;
    }
    return call(cli, &req, out);
}

/* job_info, checked to carry a job with its summary. */
static int fetch_job(sl_cli *cli, const char *job_id, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    int rc = call_job_ref(cli, SLUICE__REQUEST__BODY_JOB_INFO, job_id, &reply);
    if (rc == SL_EXIT_OK && (reply->job == NULL || reply->job->summary == NULL))
        rc = failed("the jobmanager at %s sent an incomplete reply", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *out = reply;
    else
        free_reply(reply);
    return rc;
}

/* checkpoint_stats, checked to carry the statistics. */
static int fetch_checkpoints(sl_cli *cli, const char *job_id, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    int rc = call_job_ref(cli, SLUICE__REQUEST__BODY_CHECKPOINT_STATS, job_id, &reply);
    if (rc == SL_EXIT_OK && reply->checkpoints == NULL)
        rc = failed("the jobmanager at %s sent an incomplete reply", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *out = reply;
    else
        free_reply(reply);
    return rc;
}

/* ---- output helpers */

static const char *or_dash(const char *s)
{
    return (s != NULL && *s != '\0') ? s : "-";
}

/* Times are ms since the epoch; -1 for "not yet" (as Flink's REST API). */
static int64_t json_time(int64_t ms)
{
    return ms > 0 ? ms : -1;
}

/* An empty string is written as null. */
static void json_kv_opt_string(sl_json *j, const char *key, const char *s)
{
    sl_json_kv_string(j, key, (s != NULL && *s != '\0') ? s : NULL);
}

/* "<label>: <id> <uri>", or "<label>: none" when id is 0. */
static void print_checkpoint_ref(const char *label, uint64_t id, const char *path)
{
    if (id == 0)
        printf("%s: none\n", label);
    else
        printf("%s: %" PRIu64 " %s\n", label, id, or_dash(path));
}

/* "key": {"id": id, "path": path}, or null when id is 0. */
static void json_checkpoint_ref(sl_json *j, const char *key, uint64_t id, const char *path)
{
    sl_json_key(j, key);
    if (id == 0) {
        sl_json_null(j);
        return;
    }
    sl_json_begin_object(j);
    sl_json_kv_uint(j, "id", id);
    json_kv_opt_string(j, "path", path);
    sl_json_end_object(j);
}

static int json_done(sl_json *j)
{
    int rv = sl_json_finish(j);
    if (rv != SL_OK)
        return failed("cannot write the JSON output: %s", sl_strerror(rv));
    return SL_EXIT_OK;
}

static void json_summary_fields(sl_json *j, const Sluice__JobSummary *s)
{
    sl_json_kv_string(j, "id", s->job_id);
    sl_json_kv_string(j, "state", sl_job_state_name(s->state));
    sl_json_kv_string(j, "name", s->name);
    sl_json_kv_int(j, "start-time", json_time(s->start_time_ms));
    sl_json_kv_int(j, "end-time", json_time(s->end_time_ms));
}

/* ---- run */

static int parse_parallelism(const char *s, uint32_t *out)
{
    char *end;
    long v = -1;
    *out = 0;
    if (s == NULL)
        return SL_EXIT_OK;
    if (*s >= '0' && *s <= '9') {
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0')
            v = -1;
    }
    if (v < 1 || v > MAX_PARALLELISM)
        return sl_cli_usage_error("run: invalid parallelism '%s' (expected 1 to %d)", s,
                                  MAX_PARALLELISM);
    *out = (uint32_t)v;
    return SL_EXIT_OK;
}

static int cannot_read(const char *arg, int rv, int err)
{
    const char *reason;
    switch (rv) {
    case SL_ENOTFOUND: reason = strerror(ENOENT); break;
    case SL_ENOSPC: reason = "the file is larger than 16 MiB"; break;
    case SL_EINVAL: reason = "the file contains a NUL byte"; break;
    case SL_EIO: reason = err != 0 ? strerror(err) : sl_strerror(rv); break;
    default: reason = sl_strerror(rv); break;
    }
    fprintf(stderr, "sluice: cannot read %s: %s\n", arg, reason);
    return SL_EXIT_USAGE;
}

/* Reads JOBFILE (a path, relative allowed, or a file:// URI) into *out. */
static int read_job_file(const char *arg, char **out)
{
    char path[PATH_MAX];
    const char *p = arg;
    size_t len = 0;
    if (strncmp(arg, "file://", 7) == 0) {
        if (sl_path_from_uri(arg, path, sizeof(path)) != SL_OK) {
            fprintf(stderr, "sluice: cannot read %s: not a file:// URI of an absolute path\n",
                    arg);
            return SL_EXIT_USAGE;
        }
        p = path;
    }
    errno = 0;
    int rv = sl_read_file(p, JOB_FILE_MAX, out, &len);
    int err = errno;
    if (rv == SL_OK && strlen(*out) != len) {
        free(*out);
        *out = NULL;
        rv = SL_EINVAL;
    }
    return rv == SL_OK ? SL_EXIT_OK : cannot_read(arg, rv, err);
}

/* Submits the job and prints its JobID into job_id. */
static int submit(sl_cli *cli, const char *file_name, char *yaml, uint32_t parallelism,
                  char job_id[JOB_ID_LEN + 1])
{
    char request_id[2 * REQUEST_ID_BYTES + 1];
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__SubmitJob sj = SLUICE__SUBMIT_JOB__INIT;
    Sluice__Reply *reply = NULL;
    if (sl_random_hex(request_id, REQUEST_ID_BYTES) != SL_OK)
        return failed("cannot generate a request id");
    sj.file_name = (char *)file_name;
    sj.yaml = yaml;
    sj.parallelism = parallelism;
    sj.request_id = request_id;
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
    req.submit_job = &sj;
    int rc = call(cli, &req, &reply);
    if (rc == SL_EXIT_OK && !sl_is_hex(reply->job_id, JOB_ID_LEN))
        rc = failed("the jobmanager sent an invalid JobID '%s'", reply->job_id);
    if (rc == SL_EXIT_OK) {
        snprintf(job_id, JOB_ID_LEN + 1, "%s", reply->job_id);
        printf("Job has been submitted with JobID %s\n", job_id);
        fflush(stdout);
    }
    free_reply(reply);
    return rc;
}

static int is_terminal(Sluice__JobState s)
{
    return s == SLUICE__JOB_STATE__JOB_FINISHED || s == SLUICE__JOB_STATE__JOB_FAILED ||
           s == SLUICE__JOB_STATE__JOB_CANCELED;
}

static int report_end(const char *job_id, const Sluice__JobInfo *job)
{
    Sluice__JobState st = job->summary->state;
    printf("Job %s finished with state %s\n", job_id, sl_job_state_name(st));
    fflush(stdout);
    if (st == SLUICE__JOB_STATE__JOB_FAILED)
        fprintf(stderr, "Cause: %s\n", *job->failure != '\0' ? job->failure : "unknown");
    return st == SLUICE__JOB_STATE__JOB_FINISHED ? SL_EXIT_OK : SL_EXIT_FAILED;
}

/* Attached run: polls the job until it reaches a terminal state. */
static int wait_for_job(sl_cli *cli, const char *job_id)
{
    for (;;) {
        Sluice__Reply *reply = NULL;
        int rc = fetch_job(cli, job_id, &reply);
        if (rc != SL_EXIT_OK)
            return rc;
        int done = is_terminal(reply->job->summary->state);
        if (done)
            rc = report_end(job_id, reply->job);
        free_reply(reply);
        if (done)
            return rc;
        sl_sleep_ms(cli->poll_ms);
    }
}

int sl_cli_cmd_run(sl_cli *cli, const sl_cli_args *a)
{
    const char *jobfile = a->operands[0];
    char job_id[JOB_ID_LEN + 1];
    char *yaml = NULL;
    uint32_t parallelism = 0;
    int rc = parse_parallelism(opt_value(a, 'p'), &parallelism);
    if (rc == SL_EXIT_OK && opt_flag(a, 's'))
        rc = failed("run -s is not supported yet");
    if (rc == SL_EXIT_OK && opt_flag(a, 'n'))
        rc = failed("run -n is not supported yet");
    if (rc == SL_EXIT_OK)
        rc = read_job_file(jobfile, &yaml);
    if (rc == SL_EXIT_OK)
        rc = submit(cli, jobfile, yaml, parallelism, job_id);
    free(yaml);
    if (rc == SL_EXIT_OK && !opt_flag(a, 'd'))
        rc = wait_for_job(cli, job_id);
    return rc;
}

/* ---- list */

static int print_jobs_text(const Sluice__Reply *reply)
{
    for (size_t i = 0; i < reply->n_jobs; i++) {
        const Sluice__JobSummary *s = reply->jobs[i];
        printf("%s %s %s\n", s->job_id, sl_job_state_name(s->state), s->name);
    }
    return SL_EXIT_OK;
}

static int print_jobs_json(const Sluice__Reply *reply)
{
    sl_json j;
    sl_json_init(&j, stdout);
    sl_json_begin_object(&j);
    sl_json_key(&j, "jobs");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < reply->n_jobs; i++) {
        sl_json_begin_object(&j);
        json_summary_fields(&j, reply->jobs[i]);
        sl_json_end_object(&j);
    }
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return json_done(&j);
}

int sl_cli_cmd_list(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__ListJobs lj = SLUICE__LIST_JOBS__INIT;
    Sluice__Reply *reply = NULL;
    lj.all = opt_flag(a, 'a') != 0;
    req.body_case = SLUICE__REQUEST__BODY_LIST_JOBS;
    req.list_jobs = &lj;
    int rc = call(cli, &req, &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_jobs_json(reply) : print_jobs_text(reply);
    free_reply(reply);
    return rc;
}

/* ---- info */

static int print_job_text(const Sluice__JobInfo *job)
{
    const Sluice__JobSummary *s = job->summary;
    printf("job: %s\nname: %s\nstate: %s\n", s->job_id, s->name, sl_job_state_name(s->state));
    printf("parallelism: %" PRIu32 "\nattempt: %" PRIu32 "\nrestarts: %" PRIu32 "\n",
           job->parallelism, job->attempt, job->restarts);
    if (job->restored_from_id != 0)
        print_checkpoint_ref("restored from", job->restored_from_id, job->restored_from_path);
    print_checkpoint_ref("latest checkpoint", job->latest_checkpoint_id,
                         job->latest_checkpoint_path);
    if (*job->failure != '\0')
        printf("failure: %s\n", job->failure);
    printf("tasks:\n");
    for (size_t i = 0; i < job->n_tasks; i++) {
        const Sluice__TaskInfo *t = job->tasks[i];
        printf("task %s %" PRIu32 "/%" PRIu32 " %s %s %s\n", t->chain, t->subtask,
               t->parallelism, sl_task_state_name(t->state), or_dash(t->tm_id),
               or_dash(t->tm_addr));
    }
    return SL_EXIT_OK;
}

static void json_task(sl_json *j, const Sluice__TaskInfo *t)
{
    sl_json_begin_object(j);
    sl_json_kv_int(j, "task", t->task);
    sl_json_kv_string(j, "chain", t->chain);
    sl_json_kv_int(j, "subtask", t->subtask);
    sl_json_kv_int(j, "parallelism", t->parallelism);
    sl_json_kv_string(j, "state", sl_task_state_name(t->state));
    json_kv_opt_string(j, "tm-id", t->tm_id);
    json_kv_opt_string(j, "tm-addr", t->tm_addr);
    sl_json_end_object(j);
}

static int print_job_json(const Sluice__JobInfo *job)
{
    sl_json j;
    sl_json_init(&j, stdout);
    sl_json_begin_object(&j);
    json_summary_fields(&j, job->summary);
    sl_json_kv_int(&j, "parallelism", job->parallelism);
    sl_json_kv_int(&j, "attempt", job->attempt);
    sl_json_kv_int(&j, "restarts", job->restarts);
    json_checkpoint_ref(&j, "restored-from", job->restored_from_id, job->restored_from_path);
    json_checkpoint_ref(&j, "latest-checkpoint", job->latest_checkpoint_id,
                        job->latest_checkpoint_path);
    json_kv_opt_string(&j, "failure", job->failure);
    sl_json_key(&j, "tasks");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < job->n_tasks; i++)
        json_task(&j, job->tasks[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return json_done(&j);
}

int sl_cli_cmd_info(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = fetch_job(cli, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_job_json(reply->job) : print_job_text(reply->job);
    free_reply(reply);
    return rc;
}

/* ---- cancel */

int sl_cli_cmd_cancel(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = call_job_ref(cli, SLUICE__REQUEST__BODY_CANCEL_JOB, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        printf("Cancelled job %s.\n", a->operands[0]);
    free_reply(reply);
    return rc;
}

/* ---- taskmanagers */

static int print_tms_text(const Sluice__Reply *reply)
{
    for (size_t i = 0; i < reply->n_tms; i++) {
        const Sluice__TmInfo *t = reply->tms[i];
        int v6 = strchr(t->host, ':') != NULL;
        printf("%s %s%s%s:%" PRIu32 " %" PRId32 " %" PRIu32 " %" PRIu32 " %s\n", t->tm_id,
               v6 ? "[" : "", t->host, v6 ? "]" : "", t->rpc_port, t->pid, t->slots_total,
               t->slots_free, or_dash(t->state));
    }
    return SL_EXIT_OK;
}

static void json_tm(sl_json *j, const Sluice__TmInfo *t)
{
    sl_json_begin_object(j);
    sl_json_kv_string(j, "id", t->tm_id);
    sl_json_kv_string(j, "host", t->host);
    sl_json_kv_int(j, "rpc-port", t->rpc_port);
    sl_json_kv_int(j, "data-port", t->data_port);
    sl_json_kv_int(j, "pid", t->pid);
    sl_json_kv_int(j, "slots-total", t->slots_total);
    sl_json_kv_int(j, "slots-free", t->slots_free);
    sl_json_kv_string(j, "state", t->state);
    sl_json_end_object(j);
}

static int print_tms_json(const Sluice__Reply *reply)
{
    sl_json j;
    sl_json_init(&j, stdout);
    sl_json_begin_object(&j);
    sl_json_key(&j, "taskmanagers");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < reply->n_tms; i++)
        json_tm(&j, reply->tms[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return json_done(&j);
}

int sl_cli_cmd_taskmanagers(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__ListTms lt = SLUICE__LIST_TMS__INIT;
    Sluice__Reply *reply = NULL;
    req.body_case = SLUICE__REQUEST__BODY_LIST_TMS;
    req.list_tms = &lt;
    int rc = call(cli, &req, &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_tms_json(reply) : print_tms_text(reply);
    free_reply(reply);
    return rc;
}

/* ---- checkpoints */

/* Local time "YYYY-MM-DDTHH:MM:SS.mmm" of ms since the epoch; "-" if unset. */
static void format_local_ms(int64_t ms, char *buf, size_t len)
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    size_t n = 0;
    if (ms > 0 && localtime_r(&secs, &tm) != NULL)
        n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf + n, len - n, ".%03d", (int)(ms % 1000));
}

/* Writes s with control characters as spaces, so a row stays one line. */
static void print_one_line(const char *s)
{
    for (; *s != '\0'; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static int is_status(const Sluice__CheckpointStat *c, const char *status)
{
    return c->status != NULL && strcmp(c->status, status) == 0;
}

static void print_checkpoint_row(const Sluice__CheckpointStat *c)
{
    char when[64];
    format_local_ms(c->trigger_time_ms, when, sizeof(when));
    printf("%" PRIu64 " %s %s %" PRId64 "ms %" PRIu64 "B %" PRIu32 "/%" PRIu32, c->id,
           or_dash(c->status), when, c->duration_ms, c->state_size, c->acked, c->total);
    if (is_status(c, "FAILED")) {
        fputs(" failure: ", stdout);
        print_one_line(*c->failure != '\0' ? c->failure : "unknown");
    }
    putchar('\n');
}

static int print_checkpoints_text(const Sluice__CheckpointStatsReply *st)
{
    printf("triggered: %" PRIu64 "\nin progress: %" PRIu64 "\ncompleted: %" PRIu64
           "\nfailed: %" PRIu64 "\nrestored: %" PRIu64 "\n",
           st->triggered, st->in_progress, st->completed, st->failed, st->restored);
    printf("ID STATUS TRIGGER-TIME DURATION SIZE ACKED\n");
    for (size_t i = 0; i < st->n_recent; i++)
        print_checkpoint_row(st->recent[i]);
    print_checkpoint_ref("latest completed", st->latest_completed_id, st->latest_completed_path);
    return SL_EXIT_OK;
}

static void json_subtask_checkpoint(sl_json *j, const Sluice__SubtaskCheckpointStat *t)
{
    sl_json_begin_object(j);
    sl_json_kv_int(j, "task", t->task);
    sl_json_kv_string(j, "chain", t->chain);
    sl_json_kv_int(j, "subtask", t->subtask);
    sl_json_key(j, "acked");
    sl_json_bool(j, t->acked);
    sl_json_kv_uint(j, "state-size", t->state_size);
    sl_json_kv_uint(j, "sync-ms", t->sync_ms);
    sl_json_kv_uint(j, "async-ms", t->async_ms);
    sl_json_kv_uint(j, "alignment-ms", t->align_ms);
    sl_json_end_object(j);
}

static void json_checkpoint(sl_json *j, const Sluice__CheckpointStat *c)
{
    sl_json_begin_object(j);
    sl_json_kv_uint(j, "id", c->id);
    sl_json_kv_string(j, "status", c->status);
    sl_json_kv_int(j, "trigger-time", json_time(c->trigger_time_ms));
    sl_json_kv_int(j, "duration-ms", c->duration_ms);
    sl_json_kv_uint(j, "state-size", c->state_size);
    sl_json_kv_int(j, "acked", c->acked);
    sl_json_kv_int(j, "total", c->total);
    json_kv_opt_string(j, "failure", c->failure);
    json_kv_opt_string(j, "path", c->path);
    sl_json_key(j, "subtasks");
    sl_json_begin_array(j);
    for (size_t i = 0; i < c->n_subtasks; i++)
        json_subtask_checkpoint(j, c->subtasks[i]);
    sl_json_end_array(j);
    sl_json_end_object(j);
}

static void json_checkpoint_counts(sl_json *j, const Sluice__CheckpointStatsReply *st)
{
    sl_json_key(j, "counts");
    sl_json_begin_object(j);
    sl_json_kv_uint(j, "triggered", st->triggered);
    sl_json_kv_uint(j, "in-progress", st->in_progress);
    sl_json_kv_uint(j, "completed", st->completed);
    sl_json_kv_uint(j, "failed", st->failed);
    sl_json_kv_uint(j, "restored", st->restored);
    sl_json_end_object(j);
}

static int print_checkpoints_json(const Sluice__CheckpointStatsReply *st)
{
    sl_json j;
    sl_json_init(&j, stdout);
    sl_json_begin_object(&j);
    json_checkpoint_counts(&j, st);
    sl_json_key(&j, "restored-from");
    if (st->restored_from_id != 0)
        sl_json_uint(&j, st->restored_from_id);
    else
        sl_json_null(&j);
    json_checkpoint_ref(&j, "latest-completed", st->latest_completed_id,
                        st->latest_completed_path);
    sl_json_key(&j, "checkpoints");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < st->n_recent; i++)
        json_checkpoint(&j, st->recent[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return json_done(&j);
}

int sl_cli_cmd_checkpoints(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = fetch_checkpoints(cli, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_checkpoints_json(reply->checkpoints)
                     : print_checkpoints_text(reply->checkpoints);
    free_reply(reply);
    return rc;
}

/* ---- checkpoint */

/* A triggered checkpoint being waited for. */
struct checkpoint_wait {
    const char *job_id;
    uint64_t id;
    int seen;         /* it was among the recent checkpoints once */
    int64_t start_ms; /* monotonic: when it was triggered */
};

static int trigger_checkpoint(sl_cli *cli, const char *job_id, uint64_t *id)
{
    Sluice__Reply *reply = NULL;
    int rc = call_job_ref(cli, SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW, job_id, &reply);
    if (rc == SL_EXIT_OK && reply->checkpoint_id == 0)
        rc = failed("the jobmanager at %s sent no checkpoint id", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *id = reply->checkpoint_id;
    free_reply(reply);
    return rc;
}

static const Sluice__CheckpointStat *find_checkpoint(const Sluice__CheckpointStatsReply *st,
                                                     uint64_t id)
{
    for (size_t i = 0; i < st->n_recent; i++)
        if (st->recent[i]->id == id)
            return st->recent[i];
    return NULL;
}

/* 1 if a checkpoint newer than id is listed: id has left the recent list. */
static int newer_listed(const Sluice__CheckpointStatsReply *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_recent; i++)
        if (st->recent[i]->id > id)
            return 1;
    return 0;
}

static int checkpoint_completed(const struct checkpoint_wait *w, const char *path,
                                const Sluice__CheckpointStatsReply *st)
{
    if ((path == NULL || *path == '\0') && st->latest_completed_id == w->id)
        path = st->latest_completed_path;
    printf("Checkpoint %" PRIu64 " for job %s completed. Path: %s\n", w->id, w->job_id,
           or_dash(path));
    return SL_EXIT_OK;
}

/* Looks at one poll of the statistics; *done = 1 when the wait is over
 * (the result is then the exit code). */
static int checkpoint_outcome(struct checkpoint_wait *w, const Sluice__CheckpointStatsReply *st,
                              int *done)
{
    const Sluice__CheckpointStat *c = find_checkpoint(st, w->id);
    *done = 1;
    if (c != NULL && is_status(c, "COMPLETED"))
        return checkpoint_completed(w, c->path, st);
    if (c != NULL && is_status(c, "FAILED"))
        return failed("checkpoint %" PRIu64 " failed: %s", w->id,
                      *c->failure != '\0' ? c->failure : "unknown cause");
    if (c == NULL && st->latest_completed_id == w->id)
        return checkpoint_completed(w, NULL, st);
    if (c == NULL && (w->seen || newer_listed(st, w->id)))
        return failed("checkpoint %" PRIu64 " of job %s left the recent checkpoints "
                      "without completing", w->id, w->job_id);
    if (c == NULL && sl_now_ms() - w->start_ms >= CHECKPOINT_APPEAR_MS)
        return failed("checkpoint %" PRIu64 " of job %s is not listed by the jobmanager",
                      w->id, w->job_id);
    w->seen = w->seen || c != NULL;
    *done = 0;
    return SL_EXIT_OK;
}

/* Polls the statistics until checkpoint w->id completes or fails. */
static int wait_for_checkpoint(sl_cli *cli, struct checkpoint_wait *w)
{
    for (;;) {
        Sluice__Reply *reply = NULL;
        int done = 0;
        int rc = fetch_checkpoints(cli, w->job_id, &reply);
        if (rc == SL_EXIT_OK)
            rc = checkpoint_outcome(w, reply->checkpoints, &done);
        free_reply(reply);
        if (rc != SL_EXIT_OK && !done)
            fprintf(stderr, "sluice: stopped waiting for checkpoint %" PRIu64 "\n", w->id);
        if (rc != SL_EXIT_OK || done)
            return rc;
        if (sl_now_ms() - w->start_ms >= CHECKPOINT_WAIT_MS)
            return failed("checkpoint %" PRIu64 " of job %s did not complete within %d minutes",
                          w->id, w->job_id, CHECKPOINT_WAIT_MS / 60000);
        sl_sleep_ms(CHECKPOINT_POLL_MS);
    }
}

int sl_cli_cmd_checkpoint(sl_cli *cli, const sl_cli_args *a)
{
    struct checkpoint_wait w = {.job_id = a->operands[0]};
    int rc = check_job_id(w.job_id);
    if (rc == SL_EXIT_OK)
        rc = trigger_checkpoint(cli, w.job_id, &w.id);
    w.start_ms = sl_now_ms();
    if (rc == SL_EXIT_OK)
        rc = wait_for_checkpoint(cli, &w);
    return rc;
}

/* ---- savepoint and stop: arguments are checked now, the work arrives with
 * savepoints (issue 5). */

/* savepoint JOBID [DIR] | savepoint -d PATH */
int sl_cli_cmd_savepoint(sl_cli *cli, const sl_cli_args *a)
{
    (void)cli;
    const char *dispose = opt_value(a, 'd');
    if (dispose != NULL && a->noperands > 0)
        return sl_cli_usage_error("savepoint: -d PATH takes no other argument");
    if (dispose == NULL && a->noperands == 0)
        return sl_cli_usage_error("savepoint: missing JOBID");
    int rc = dispose != NULL ? SL_EXIT_OK : check_job_id(a->operands[0]);
    return rc != SL_EXIT_OK ? rc : not_supported("savepoint");
}

/* stop [-p DIR] JOBID */
int sl_cli_cmd_stop(sl_cli *cli, const sl_cli_args *a)
{
    (void)cli;
    int rc = check_job_id(a->operands[0]);
    return rc != SL_EXIT_OK ? rc : not_supported("stop");
}
