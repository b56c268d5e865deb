/* The savepoint commands: `savepoint JOBID [DIR]` (trigger one and wait
 * for it), `savepoint -d PATH` (dispose of one) and `stop [-p DIR] JOBID`
 * (a savepoint after which the job ends). Both print
 * "Savepoint completed. Path: <uri>" on success. Relative folders are made
 * absolute against the current directory (the jobmanager needs absolute
 * paths; it shares the file system with the CLI). */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "cli/commands.h"
#include "cli/rpc_call.h"
#include "common/status.h"
#include "common/util.h"

#define SAVEPOINT_POLL_MS 100
#define SAVEPOINT_WAIT_MS (10 * 60 * 1000)
#define STOP_END_WAIT_MS (2 * 60 * 1000) /* after the savepoint: the job ends */

int sl_cli_abs_path(const char *arg, char *out, size_t len)
{
    char cwd[PATH_MAX];
    int w;
    if (arg[0] == '/' || strncmp(arg, "file://", 7) == 0) {
        w = snprintf(out, len, "%s", arg);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return sl_cli_failed("cannot resolve '%s': the current directory is unknown", arg);
        w = snprintf(out, len, "%s/%s", cwd, arg);
    }
    if (w < 0 || (size_t)w >= len)
        return sl_cli_usage_error("path '%.200s' is too long", arg);
    return SL_EXIT_OK;
}

static int trigger(sl_cli *cli, const char *job_id, const char *dir, int stop, uint64_t *id)
{
    char request_id[2 * SL_REQUEST_ID_BYTES + 1];
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__TriggerSavepoint t = SLUICE__TRIGGER_SAVEPOINT__INIT;
    Sluice__Reply *reply = NULL;
    if (sl_random_hex(request_id, SL_REQUEST_ID_BYTES) != SL_OK)
        return sl_cli_failed("cannot generate a request id");
    t.job_id = (char *)job_id;
    t.target_dir = (char *)dir;
    t.stop = stop;
    t.request_id = request_id;
    req.body_case = SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT;
    req.trigger_savepoint = &t;
    int rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK && (reply->savepoint == NULL || reply->savepoint->id == 0))
        rc = sl_cli_failed("the jobmanager at %s sent no savepoint id", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *id = reply->savepoint->id;
    sl_cli_free_reply(reply);
    return rc;
}

static int fetch_status(sl_cli *cli, const char *job_id, uint64_t id, Sluice__Reply **out)
{
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__SavepointRef r = SLUICE__SAVEPOINT_REF__INIT;
    r.job_id = (char *)job_id;
    r.savepoint_id = id;
    req.body_case = SLUICE__REQUEST__BODY_SAVEPOINT_STATUS;
    req.savepoint_status = &r;
    int rc = sl_cli_call(cli, &req, out);
    if (rc == SL_EXIT_OK && (*out)->savepoint == NULL) {
        sl_cli_free_reply(*out);
        *out = NULL;
        rc = sl_cli_failed("the jobmanager at %s sent no savepoint status", cli->jm_addr);
    }
    return rc;
}

/* Polls until savepoint id ends; its path (file:// URI) into path. */
static int wait_savepoint(sl_cli *cli, const char *job_id, uint64_t id, char *path, size_t len)
{
    int64_t start = sl_now_ms();
    for (;;) {
        Sluice__Reply *reply = NULL;
        int rc = fetch_status(cli, job_id, id, &reply);
        const Sluice__SavepointStatus *s = rc == SL_EXIT_OK ? reply->savepoint : NULL;
        int done = s != NULL && strcmp(s->status, "IN_PROGRESS") != 0;
        if (s != NULL && strcmp(s->status, "COMPLETED") == 0)
            snprintf(path, len, "%s", s->path);
        else if (done)
            rc = sl_cli_failed("savepoint %" PRIu64 " of job %s failed: %s", id, job_id,
                               s->failure[0] != '\0' ? s->failure : "unknown cause");
        sl_cli_free_reply(reply);
        if (rc != SL_EXIT_OK || done)
            return rc;
        if (sl_now_ms() - start >= SAVEPOINT_WAIT_MS)
            return sl_cli_failed("savepoint %" PRIu64 " of job %s did not complete within %d "
                                 "minutes", id, job_id, SAVEPOINT_WAIT_MS / 60000);
        sl_sleep_ms(SAVEPOINT_POLL_MS);
    }
}

static int dispose(sl_cli *cli, const char *arg)
{
    char path[PATH_MAX];
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__DisposeSavepoint d = SLUICE__DISPOSE_SAVEPOINT__INIT;
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_abs_path(arg, path, sizeof(path));
    if (rc != SL_EXIT_OK)
        return rc;
    d.path = path;
    req.body_case = SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT;
    req.dispose_savepoint = &d;
    rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK)
        printf("Savepoint '%s' disposed.\n", path);
    sl_cli_free_reply(reply);
    return rc;
}

/* Triggers a savepoint (stop: then the job ends) and waits for it. */
static int take_savepoint(sl_cli *cli, const char *job_id, const char *dir_arg, int stop,
                          char *path, size_t len)
{
    char dir[PATH_MAX] = "";
    uint64_t id = 0;
    int rc = sl_cli_check_job_id(job_id);
    if (rc == SL_EXIT_OK && dir_arg != NULL)
        rc = sl_cli_abs_path(dir_arg, dir, sizeof(dir));
    if (rc == SL_EXIT_OK)
        rc = trigger(cli, job_id, dir, stop, &id);
    if (rc == SL_EXIT_OK) {
        printf("Triggering %s for job %s.\n", stop ? "stop-with-savepoint" : "savepoint",
               job_id);
        fflush(stdout);
        rc = wait_savepoint(cli, job_id, id, path, len);
    }
    return rc;
}

/* savepoint JOBID [DIR] | savepoint -d PATH */
int sl_cli_cmd_savepoint(sl_cli *cli, const sl_cli_args *a)
{
    char path[PATH_MAX + 16];
    const char *disp = sl_cli_opt_value(a, 'd');
    if (disp != NULL && a->noperands > 0)
        return sl_cli_usage_error("savepoint: -d PATH takes no other argument");
    if (disp != NULL)
        return dispose(cli, disp);
    if (a->noperands == 0)
        return sl_cli_usage_error("savepoint: missing JOBID");
    int rc = take_savepoint(cli, a->operands[0], a->noperands > 1 ? a->operands[1] : NULL, 0,
                            path, sizeof(path));
    if (rc == SL_EXIT_OK)
        printf("Savepoint completed. Path: %s\n", path);
    return rc;
}

/* After a stop savepoint: the job drains and ends. */
static int wait_job_end(sl_cli *cli, const char *job_id)
{
    int64_t start = sl_now_ms();
    for (;;) {
        Sluice__Reply *reply = NULL;
        int rc = sl_cli_call_job_ref(cli, SLUICE__REQUEST__BODY_JOB_INFO, job_id, &reply);
        Sluice__JobState st = rc == SL_EXIT_OK && reply->job != NULL && reply->job->summary
                                  ? reply->job->summary->state
                                  : SLUICE__JOB_STATE__JOB_RUNNING;
        sl_cli_free_reply(reply);
        if (rc != SL_EXIT_OK)
            return rc;
        if (st == SLUICE__JOB_STATE__JOB_FINISHED)
            return SL_EXIT_OK;
        if (st == SLUICE__JOB_STATE__JOB_FAILED || st == SLUICE__JOB_STATE__JOB_CANCELED)
            return sl_cli_failed("job %s ended %s after its savepoint", job_id,
                                 sl_job_state_name(st));
        if (sl_now_ms() - start >= STOP_END_WAIT_MS)
            return sl_cli_failed("job %s did not end within %d s of its savepoint", job_id,
                                 STOP_END_WAIT_MS / 1000);
        sl_sleep_ms(SAVEPOINT_POLL_MS);
    }
}

/* stop [-p DIR] JOBID */
int sl_cli_cmd_stop(sl_cli *cli, const sl_cli_args *a)
{
    char path[PATH_MAX + 16] = "";
    int rc = take_savepoint(cli, a->operands[0], sl_cli_opt_value(a, 'p'), 1, path,
                            sizeof(path));
    if (rc == SL_EXIT_OK)
        rc = wait_job_end(cli, a->operands[0]);
    if (rc == SL_EXIT_OK || path[0] != '\0')
        printf("Savepoint completed. Path: %s\n", path);
    return rc;
}
