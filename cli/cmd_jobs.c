/* The job commands: run (submit; an attached run then waits for the job
 * to end), list, info and cancel. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "cli/commands.h"
#include "cli/json.h"
#include "cli/output.h"
#include "cli/rpc_call.h"
#include "common/jobfile.h"
#include "common/status.h"
#include "common/util.h"
#include "include/sluice/udf.h"

#define JOB_FILE_MAX ((size_t)16 << 20)

/* job_info, checked to carry a job with its summary. */
static int fetch_job(sl_cli *cli, const char *job_id, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_call_job_ref(cli, SLUICE__REQUEST__BODY_JOB_INFO, job_id, &reply);
    if (rc == SL_EXIT_OK && (reply->job == NULL || reply->job->summary == NULL))
        rc = sl_cli_report(cli, SL_EXIT_FAILED, "the jobmanager at %s sent an incomplete reply",
                           cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *out = reply;
    else
        sl_cli_free_reply(reply);
    return rc;
}

static void json_summary_fields(sl_json *j, const Sluice__JobSummary *s)
{
    sl_json_kv_string(j, "id", s->job_id);
    sl_json_kv_string(j, "state", sl_job_state_name(s->state));
    sl_json_kv_string(j, "name", s->name);
    sl_json_kv_int(j, "start-time", sl_cli_json_time(s->start_time_ms));
    sl_json_kv_int(j, "end-time", sl_cli_json_time(s->end_time_ms));
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
    if (v < 1 || v > SL_MAX_PARALLELISM)
        return sl_cli_usage_error("run: invalid parallelism '%s' (expected 1 to %d)", s,
                                  SL_MAX_PARALLELISM);
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
    fprintf(stderr, "%s: cannot read the job file: %s\n", arg, reason);
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
            fprintf(stderr, "%s: cannot read the job file: not a file:// URI of an absolute path\n",
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

/* ---- udf libraries: read on this machine, sent with the job */

typedef struct udf_libs {
    size_t n, total;
    Sluice__UdfLibrary *libs[SL_MAX_STAGES];
} udf_libs;

static void udf_libs_free(udf_libs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->libs[i]->path);
        free(l->libs[i]->content.data);
        free(l->libs[i]);
    }
    l->n = 0;
}

static int lib_known(const udf_libs *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->libs[i]->path, path) == 0)
            return 1;
    return 0;
}

static int cannot_read_lib(const char *file, const sl_param *p, int rv, int err)
{
    const char *reason = rv == SL_ENOTFOUND ? strerror(ENOENT)
                         : rv == SL_ENOSPC  ? "the job's libraries are larger than 32 MiB"
                         : rv == SL_EIO && err != 0 ? strerror(err) : sl_strerror(rv);
    fprintf(stderr, "%s:%d:%d: cannot read library '%s': %s\n", file, p->line, p->col,
            p->value, reason);
    return SL_EXIT_USAGE;
}

/* Reads the library of one udf stage (if not read already). */
static int read_lib(udf_libs *l, const char *file, const sl_stage *st)
{
    const sl_param *p = NULL;
    char *data = NULL;
    size_t len = 0;
    for (int i = 0; i < st->nparams; i++)
        if (strcmp(st->params[i].key, "library") == 0)
            p = &st->params[i];
    if (p == NULL || lib_known(l, p->value))
        return SL_EXIT_OK;
    errno = 0;
    int rv = sl_read_file(p->value, SLUICE_UDF_LIBRARY_MAX - l->total, &data, &len);
    if (rv != SL_OK)
        return cannot_read_lib(file, p, rv, errno);
    Sluice__UdfLibrary *lib = calloc(1, sizeof(*lib));
    char *path = strdup(p->value);
    if (lib == NULL || path == NULL) {
        free(lib);
        free(path);
        free(data);
        fprintf(stderr, "%s: out of memory\n", file);
        return SL_EXIT_FAILED;
    }
    sluice__udf_library__init(lib);
    lib->path = path;
    lib->content.data = (uint8_t *)data;
    lib->content.len = len;
    l->total += len;
    l->libs[l->n++] = lib;
    return SL_EXIT_OK;
}

/* The libraries named by the job's udf stages. A job file that does not
 * parse is sent as it is: the jobmanager reports its error. */
static int read_udf_libs(const char *file, const char *yaml, uint32_t par, udf_libs *l)
{
    sl_job_spec *spec = NULL;
    char err[512];
    int rc = SL_EXIT_OK;
    if (sl_job_parse(file, yaml, strlen(yaml), (int)par, &spec, err, sizeof(err)) != SL_OK)
        return SL_EXIT_OK;
    for (int i = 0; i < spec->nstages && rc == SL_EXIT_OK; i++) {
        const sl_stage *st = &spec->stages[i];
        if (st->kind == SL_STAGE_OPERATOR && strcmp(st->type, "udf") == 0)
            rc = read_lib(l, file, st);
    }
    sl_job_free(spec);
    return rc;
}

/* Submits the job and prints its JobID into job_id. */
static int submit(sl_cli *cli, const char *file_name, char *yaml, uint32_t parallelism,
                  const udf_libs *libs, const sl_cli_args *a, char job_id[SL_JOB_ID_LEN + 1])
{
    char restore[PATH_MAX] = "";
    char request_id[2 * SL_REQUEST_ID_BYTES + 1];
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__SubmitJob sj = SLUICE__SUBMIT_JOB__INIT;
    Sluice__Reply *reply = NULL;
    if (sl_random_hex(request_id, SL_REQUEST_ID_BYTES) != SL_OK)
        return sl_cli_report(cli, SL_EXIT_FAILED, "cannot generate a request id");
    sj.file_name = (char *)file_name;
    sj.yaml = yaml;
    sj.parallelism = parallelism;
    sj.request_id = request_id;
    sj.n_libraries = libs->n;
    sj.libraries = (Sluice__UdfLibrary **)libs->libs;
    if (sl_cli_opt_value(a, 's') != NULL &&
        sl_cli_abs_path(sl_cli_opt_value(a, 's'), restore, sizeof(restore)) != SL_EXIT_OK)
        return SL_EXIT_USAGE;
    sj.restore_path = restore;
    sj.allow_non_restored = sl_cli_opt_flag(a, 'n') > 0;
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
    req.submit_job = &sj;
    int rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK && !sl_is_hex(reply->job_id, SL_JOB_ID_LEN))
        rc = sl_cli_report(cli, SL_EXIT_FAILED, "the jobmanager sent an invalid JobID '%s'",
                           reply->job_id);
    if (rc == SL_EXIT_OK) {
        snprintf(job_id, SL_JOB_ID_LEN + 1, "%s", reply->job_id);
        printf("Job has been submitted with JobID %s\n", job_id);
        fflush(stdout);
    }
    sl_cli_free_reply(reply);
    return rc;
}

static int is_terminal(Sluice__JobState s)
{
    return s == SLUICE__JOB_STATE__JOB_FINISHED || s == SLUICE__JOB_STATE__JOB_FAILED ||
           s == SLUICE__JOB_STATE__JOB_CANCELED;
}

static int report_end(const sl_cli *cli, const char *job_id, const Sluice__JobInfo *job)
{
    Sluice__JobState st = job->summary->state;
    printf("Job %s finished with state %s\n", job_id, sl_job_state_name(st));
    fflush(stdout);
    if (st == SLUICE__JOB_STATE__JOB_FAILED)
        sl_cli_report(cli, SL_EXIT_FAILED, "job %s failed: %s", job_id,
                      *job->failure != '\0' ? job->failure : "unknown cause");
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
            rc = report_end(cli, job_id, reply->job);
        sl_cli_free_reply(reply);
        if (done)
            return rc;
        sl_sleep_ms(cli->poll_ms);
    }
}

int sl_cli_cmd_run(sl_cli *cli, const sl_cli_args *a)
{
    const char *jobfile = a->operands[0];
    char job_id[SL_JOB_ID_LEN + 1];
    char *yaml = NULL;
    udf_libs libs = {0};
    uint32_t parallelism = 0;
    int rc = parse_parallelism(sl_cli_opt_value(a, 'p'), &parallelism);
    cli->subject = jobfile; /* what run reports about the job starts with its file */
    if (rc == SL_EXIT_OK && sl_cli_opt_flag(a, 'n') && !sl_cli_opt_flag(a, 's'))
        rc = sl_cli_usage_error("run: -n is only meaningful with -s PATH");
    if (rc == SL_EXIT_OK)
        rc = read_job_file(jobfile, &yaml);
    if (rc == SL_EXIT_OK)
        rc = read_udf_libs(jobfile, yaml, parallelism, &libs);
    if (rc == SL_EXIT_OK)
        rc = submit(cli, jobfile, yaml, parallelism, &libs, a, job_id);
    udf_libs_free(&libs);
    free(yaml);
    if (rc == SL_EXIT_OK && !sl_cli_opt_flag(a, 'd'))
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
    return sl_cli_json_done(&j);
}

int sl_cli_cmd_list(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__ListJobs lj = SLUICE__LIST_JOBS__INIT;
    Sluice__Reply *reply = NULL;
    lj.all = sl_cli_opt_flag(a, 'a') != 0;
    req.body_case = SLUICE__REQUEST__BODY_LIST_JOBS;
    req.list_jobs = &lj;
    int rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_jobs_json(reply) : print_jobs_text(reply);
    sl_cli_free_reply(reply);
    return rc;
}

/* ---- info */

/* The line under a task line: its counters of the current attempt. */
static void print_task_records(const Sluice__TaskInfo *t)
{
    printf("  records in %" PRIu64 ", out %" PRIu64, t->records_in, t->records_out);
    if (t->late_records != 0)
        printf(", late %" PRIu64, t->late_records);
    printf("\n");
}

/* "recovered: by a new leader at <time> from checkpoint <id> <uri>" when a
 * leader that took over (high availability) recovered the job. */
static void print_recovered(const Sluice__JobInfo *job)
{
    char when[SL_CLI_TIME_MAX];
    if (job->recovered_time_ms <= 0)
        return;
    sl_cli_format_time(job->recovered_time_ms, when, sizeof(when));
    printf("recovered: by a new leader at %s ", when);
    if (job->recovered_from_id != 0)
        printf("from checkpoint %" PRIu64 " %s\n", job->recovered_from_id,
               sl_cli_or_dash(job->recovered_from_path));
    else
        printf("with no checkpoint to start from\n");
}

static void json_recovered(sl_json *j, const Sluice__JobInfo *job)
{
    sl_json_key(j, "recovered");
    if (job->recovered_time_ms <= 0) {
        sl_json_null(j);
        return;
    }
    sl_json_begin_object(j);
    sl_json_kv_int(j, "time", job->recovered_time_ms);
    sl_cli_json_checkpoint_ref(j, "checkpoint", job->recovered_from_id,
                               job->recovered_from_path);
    sl_json_end_object(j);
}

static int print_job_text(const Sluice__JobInfo *job)
{
    const Sluice__JobSummary *s = job->summary;
    printf("job: %s\nname: %s\nstate: %s\n", s->job_id, s->name, sl_job_state_name(s->state));
    printf("parallelism: %" PRIu32 "\nattempt: %" PRIu32 "\nrestarts: %" PRIu32 "\n",
           job->parallelism, job->attempt, job->restarts);
    if (job->restored_from_id != 0)
        sl_cli_print_checkpoint_ref("restored from", job->restored_from_id,
                                    job->restored_from_path);
    sl_cli_print_checkpoint_ref("latest checkpoint", job->latest_checkpoint_id,
                                job->latest_checkpoint_path);
    print_recovered(job);
    if (*job->failure != '\0')
        printf("failure: %s\n", job->failure);
    printf("late records: %" PRIu64 "\n", job->late_records);
    printf("tasks:\n");
    for (size_t i = 0; i < job->n_tasks; i++) {
        const Sluice__TaskInfo *t = job->tasks[i];
        printf("task %s %" PRIu32 "/%" PRIu32 " %s %s %s\n", t->chain, t->subtask,
               t->parallelism, sl_task_state_name(t->state), sl_cli_or_dash(t->tm_id),
               sl_cli_or_dash(t->tm_addr));
        print_task_records(t);
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
    sl_cli_json_kv_opt_string(j, "tm-id", t->tm_id);
    sl_cli_json_kv_opt_string(j, "tm-addr", t->tm_addr);
    sl_json_kv_uint(j, "records-in", t->records_in);
    sl_json_kv_uint(j, "records-out", t->records_out);
    sl_json_kv_uint(j, "late-records", t->late_records);
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
    sl_cli_json_checkpoint_ref(&j, "restored-from", job->restored_from_id, job->restored_from_path);
    sl_cli_json_checkpoint_ref(&j, "latest-checkpoint", job->latest_checkpoint_id,
                               job->latest_checkpoint_path);
    json_recovered(&j, job);
    sl_cli_json_kv_opt_string(&j, "failure", job->failure);
    sl_json_kv_uint(&j, "late-records", job->late_records);
    sl_json_key(&j, "tasks");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < job->n_tasks; i++)
        json_task(&j, job->tasks[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return sl_cli_json_done(&j);
}

int sl_cli_cmd_info(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = fetch_job(cli, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_job_json(reply->job) : print_job_text(reply->job);
    sl_cli_free_reply(reply);
    return rc;
}

/* ---- cancel */

int sl_cli_cmd_cancel(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = sl_cli_call_job_ref(cli, SLUICE__REQUEST__BODY_CANCEL_JOB, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        printf("Cancelled job %s.\n", a->operands[0]);
    sl_cli_free_reply(reply);
    return rc;
}
