/* The checkpoint commands: checkpoints (statistics) and checkpoint (trigger
 * one and wait for its end). Savepoints are in cmd_savepoints.c. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/json.h"
#include "cli/output.h"
#include "cli/rpc_call.h"
#include "common/status.h"
#include "common/util.h"

#define CHECKPOINT_POLL_MS 100
#define CHECKPOINT_WAIT_MS (10 * 60 * 1000)
#define CHECKPOINT_APPEAR_MS 5000 /* a triggered checkpoint must be listed by then */

/* checkpoint_stats, checked to carry the statistics. */
static int fetch_checkpoints(sl_cli *cli, const char *job_id, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_call_job_ref(cli, SLUICE__REQUEST__BODY_CHECKPOINT_STATS, job_id, &reply);
    if (rc == SL_EXIT_OK && reply->checkpoints == NULL)
        rc = sl_cli_failed("the jobmanager at %s sent an incomplete reply", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *out = reply;
    else
        sl_cli_free_reply(reply);
    return rc;
}

/* ---- checkpoints */

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
    sl_cli_format_time(c->trigger_time_ms, when, sizeof(when));
    printf("%" PRIu64 " %s %s %" PRId64 "ms %" PRIu64 "B %" PRIu32 "/%" PRIu32, c->id,
           sl_cli_or_dash(c->status), when, c->duration_ms, c->state_size, c->acked, c->total);
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
    sl_cli_print_checkpoint_ref("latest completed", st->latest_completed_id,
                                st->latest_completed_path);
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
    sl_json_kv_int(j, "trigger-time", sl_cli_json_time(c->trigger_time_ms));
    sl_json_kv_int(j, "duration-ms", c->duration_ms);
    sl_json_kv_uint(j, "state-size", c->state_size);
    sl_json_kv_int(j, "acked", c->acked);
    sl_json_kv_int(j, "total", c->total);
    sl_cli_json_kv_opt_string(j, "failure", c->failure);
    sl_cli_json_kv_opt_string(j, "path", c->path);
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
    sl_cli_json_checkpoint_ref(&j, "latest-completed", st->latest_completed_id,
                               st->latest_completed_path);
    sl_json_key(&j, "checkpoints");
    sl_json_begin_array(&j);
    for (size_t i = 0; i < st->n_recent; i++)
        json_checkpoint(&j, st->recent[i]);
    sl_json_end_array(&j);
    sl_json_end_object(&j);
    return sl_cli_json_done(&j);
}

int sl_cli_cmd_checkpoints(sl_cli *cli, const sl_cli_args *a)
{
    Sluice__Reply *reply = NULL;
    int rc = sl_cli_check_job_id(a->operands[0]);
    if (rc == SL_EXIT_OK)
        rc = fetch_checkpoints(cli, a->operands[0], &reply);
    if (rc == SL_EXIT_OK)
        rc = a->json ? print_checkpoints_json(reply->checkpoints)
                     : print_checkpoints_text(reply->checkpoints);
    sl_cli_free_reply(reply);
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
    char request_id[33];
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__JobRef ref = SLUICE__JOB_REF__INIT;
    Sluice__Reply *reply = NULL;
    if (sl_random_hex(request_id, 16) != SL_OK)
        return sl_cli_failed("cannot generate a request id");
    ref.job_id = (char *)job_id;
    ref.request_id = request_id; /* a resent request takes no second checkpoint */
    req.body_case = SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW;
    req.trigger_checkpoint_now = &ref;
    int rc = sl_cli_call(cli, &req, &reply);
    if (rc == SL_EXIT_OK && reply->checkpoint_id == 0)
        rc = sl_cli_failed("the jobmanager at %s sent no checkpoint id", cli->jm_addr);
    if (rc == SL_EXIT_OK)
        *id = reply->checkpoint_id;
    sl_cli_free_reply(reply);
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
           sl_cli_or_dash(path));
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
        return sl_cli_failed("checkpoint %" PRIu64 " failed: %s", w->id,
                             *c->failure != '\0' ? c->failure : "unknown cause");
    if (c == NULL && st->latest_completed_id == w->id)
        return checkpoint_completed(w, NULL, st);
    if (c == NULL && (w->seen || newer_listed(st, w->id)))
        return sl_cli_failed("checkpoint %" PRIu64 " of job %s left the recent checkpoints "
                             "without completing", w->id, w->job_id);
    if (c == NULL && sl_now_ms() - w->start_ms >= CHECKPOINT_APPEAR_MS)
        return sl_cli_failed("checkpoint %" PRIu64 " of job %s is not listed by the jobmanager",
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
        sl_cli_free_reply(reply);
        if (rc != SL_EXIT_OK && !done)
            fprintf(stderr, "sluice: stopped waiting for checkpoint %" PRIu64 "\n", w->id);
        if (rc != SL_EXIT_OK || done)
            return rc;
        if (sl_now_ms() - w->start_ms >= CHECKPOINT_WAIT_MS)
            return sl_cli_failed("checkpoint %" PRIu64 " of job %s did not complete within "
                                 "%d minutes", w->id, w->job_id, CHECKPOINT_WAIT_MS / 60000);
        sl_sleep_ms(CHECKPOINT_POLL_MS);
    }
}

int sl_cli_cmd_checkpoint(sl_cli *cli, const sl_cli_args *a)
{
    struct checkpoint_wait w = {.job_id = a->operands[0]};
    int rc = sl_cli_check_job_id(w.job_id);
    if (rc == SL_EXIT_OK)
        rc = trigger_checkpoint(cli, w.job_id, &w.id);
    w.start_ms = sl_now_ms();
    if (rc == SL_EXIT_OK)
        rc = wait_for_checkpoint(cli, &w);
    return rc;
}
