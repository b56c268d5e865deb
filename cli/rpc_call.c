/* Requests to the jobmanager, and what a failed one means for the user
 * (see rpc_call.h). */
#include "cli/rpc_call.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/leader.h"
#include "common/status.h"
#include "common/util.h"

#define RETRY_PAUSE_MS 200 /* between two attempts while a failover is in progress */
#define WATCH_MS 100       /* how often a call in flight looks at its connection */

/* ---- talking to the jobmanager */

static int unreachable(const sl_cli *cli, const char *reason)
{
    if (cli->ha_cfg != NULL)
        return sl_cli_report(cli, SL_EXIT_UNREACHABLE,
                             "cannot reach the jobmanager at %s, the leader in ZooKeeper at %s "
                             "(%s): %s",
                             cli->jm_addr, cli->zk_quorum, cli->ha_dir, reason);
    return sl_cli_report(cli, SL_EXIT_UNREACHABLE, "cannot reach the jobmanager at %s: %s",
                         cli->jm_addr, reason);
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

/* nng thread: the connection to the jobmanager came up or went. */
static void on_pipe(void *arg, int up)
{
    sl_cli *cli = arg;
    atomic_store(&cli->rpc_down, !up);
}

/* Opens cli->rpc. With the leader from ZooKeeper, a connection that was
 * lost is dialled again (nng would wait for the dead leader to come back
 * until the request times out), and a leader that does not listen may be
 * one that died: SL_CLI_RETRY unless last (nothing was sent). */
static int connect_jm(sl_cli *cli, int last)
{
    char err[512] = "";
    int ha = cli->ha_cfg != NULL;
    if (cli->rpc != NULL && ha && atomic_load(&cli->rpc_down)) {
        sl_rpc_client_close(cli->rpc);
        cli->rpc = NULL;
    }
    if (cli->rpc != NULL)
        return SL_EXIT_OK;
    atomic_store(&cli->rpc_down, 0);
    int rv = sl_rpc_client_open(cli->url, 1, cli->max_msg, ha ? on_pipe : NULL, cli, &cli->rpc,
                                err, sizeof(err));
    if (rv == SL_OK) {
        sl_rpc_client_set_signer(cli->rpc, cli->signer, 0);
        return SL_EXIT_OK;
    }
    cli->rpc = NULL;
    if (rv == SL_ENOMEM)
        return sl_cli_report(cli, SL_EXIT_FAILED, "out of memory");
    if (ha && !last)
        return SL_CLI_RETRY;
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
        return sl_cli_report(cli, SL_EXIT_USAGE,
                             "the request is too large (%zu bytes, rpc.max-message-size is %zu)",
                             sluice__request__get_packed_size(req), cli->max_msg);
    case SL_EPROTO:
        return sl_cli_report(cli, SL_EXIT_FAILED, "the jobmanager at %s sent a malformed reply",
                             cli->jm_addr);
    }
    return sl_cli_report(cli, SL_EXIT_FAILED, "the request to the jobmanager failed: %s",
                         sl_strerror(rv));
}

/* ---- a call that notices a lost connection (leader from ZooKeeper) */

struct watched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

/* nng thread: the call ended by itself. */
static void watched_done(void *arg)
{
    struct watched *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_until_done_or_down(sl_cli *cli, struct watched *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done && !atomic_load(&cli->rpc_down)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)WATCH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
}

/* As sl_rpc_call, but a connection lost while the call waits ends it at
 * once with SL_ECLOSED: nng would send the request again once the dead
 * leader's address answers, which it may never do. */
static int call_watched(sl_cli *cli, const Sluice__Request *req, Sluice__Reply **reply)
{
    struct watched w = {.done = 0};
    sl_rpc_async *a = NULL;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rv = sl_rpc_call_start(cli->rpc, req, cli->timeout_ms, watched_done, &w, &a);
    if (rv == SL_OK) {
        wait_until_done_or_down(cli, &w);
        sl_rpc_async_stop(a); /* takes w.mu in watched_done: not held here */
        rv = sl_rpc_async_result(a, reply);
        sl_rpc_async_free(a);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rv == SL_ECANCELED ? SL_ECLOSED : rv;
}

/* 1 if req only reads: sending it twice does no harm. */
static int read_only(const Sluice__Request *req)
{
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_LIST_JOBS:
    case SLUICE__REQUEST__BODY_JOB_INFO:
    case SLUICE__REQUEST__BODY_CHECKPOINT_STATS:
    case SLUICE__REQUEST__BODY_LIST_TMS: return 1;
    default: return 0;
    }
}

/* 1 if msg already starts with "<subject>:" (a place in the job file). */
static int names_subject(const sl_cli *cli, const char *msg)
{
    size_t n = cli->subject != NULL ? strlen(cli->subject) : 0;
    return n > 0 && strncmp(msg, cli->subject, n) == 0 && msg[n] == ':';
}

/* Reports a reply whose status is not OK; returns the exit code. An
 * INVALID reply's message is the jobmanager's own ("file:line:column:
 * ..." for a bad job file), prefixed with the subject unless it names it. */
static int reply_error(const sl_cli *cli, const Sluice__Reply *reply)
{
    const char *err = reply->error != NULL ? reply->error : "";
    const char *leader = reply->leader != NULL ? reply->leader : "";
    switch (reply->status) {
    case SLUICE__STATUS__STATUS_NOT_LEADER:
        if (*err != '\0')
            return sl_cli_report(cli, SL_EXIT_UNREACHABLE, "%s", err);
        if (*leader != '\0')
            return sl_cli_report(cli, SL_EXIT_UNREACHABLE, "not the leader; the leader is %s",
                                 leader);
        return sl_cli_report(cli, SL_EXIT_UNREACHABLE, "not the leader; no leader is elected yet");
    case SLUICE__STATUS__STATUS_FAILED:
        return sl_cli_report(cli, SL_EXIT_FAILED, "%s",
                             *err != '\0' ? err : "the operation failed");
    case SLUICE__STATUS__STATUS_DENIED: /* "permission denied: <cn> may not <verb>" */
        return sl_cli_report(cli, SL_EXIT_FAILED, "%s", *err != '\0' ? err : "permission denied");
    case SLUICE__STATUS__STATUS_INVALID:
        if (*err == '\0')
            return sl_cli_report(cli, SL_EXIT_USAGE, "the jobmanager rejected the request");
        if (cli->subject != NULL && !names_subject(cli, err))
            return sl_cli_report(cli, SL_EXIT_USAGE, "%s", err);
        fprintf(stderr, "%s\n", err);
        return SL_EXIT_USAGE;
    default:
        return sl_cli_report(cli, SL_EXIT_FAILED,
                             "the jobmanager answered with an unknown status %d",
                             (int)reply->status);
    }
}

/* One attempt: SL_EXIT_OK with *out set, an exit code (printed), or, with
 * the leader from ZooKeeper and not last, SL_CLI_RETRY when the jobmanager
 * it names did nothing with req (it does not listen, or is not the leader
 * any more or yet) or req only reads and the connection was lost. Any other
 * request lost after it was sent is never repeated. */
static int attempt(sl_cli *cli, const Sluice__Request *req, Sluice__Reply **out, int last)
{
    Sluice__Reply *reply = NULL;
    int ha = cli->ha_cfg != NULL;
    int rc = ha ? sl_cli_leader_lookup(cli, last) : SL_EXIT_OK;
    if (rc == SL_EXIT_OK)
        rc = connect_jm(cli, last);
    if (rc != SL_EXIT_OK)
        return rc;
    int rv = ha ? call_watched(cli, req, &reply) : sl_rpc_call(cli->rpc, req, cli->timeout_ms,
                                                               &reply);
    if (rv == SL_ECLOSED && ha && !last && read_only(req))
        return SL_CLI_RETRY; /* connect_jm dials again: rpc_down is set */
    if (rv != SL_OK)
        return call_error(cli, rv, req);
    if (reply->status == SLUICE__STATUS__STATUS_OK) {
        *out = reply;
        return SL_EXIT_OK;
    }
    if (reply->status == SLUICE__STATUS__STATUS_NOT_LEADER && cli->ha_cfg != NULL && !last)
        rc = SL_CLI_RETRY;
    else
        rc = reply_error(cli, reply);
    sluice__reply__free_unpacked(reply, NULL);
    return rc;
}

/* Sends req. On STATUS_OK, *out holds the reply (caller frees with
 * sluice__reply__free_unpacked) and the result is SL_EXIT_OK; otherwise the
 * problem has been printed, *out is NULL and the exit code is returned.
 * With the leader from ZooKeeper, a failover is given cli->retry_ms. */
int sl_cli_call(sl_cli *cli, const Sluice__Request *req, Sluice__Reply **out)
{
    int64_t deadline = sl_now_ms() + cli->retry_ms;
    *out = NULL;
    for (;;) {
        int last = cli->ha_cfg == NULL || sl_now_ms() >= deadline;
        int rc = attempt(cli, req, out, last);
        if (rc != SL_CLI_RETRY)
            return rc;
        sl_sleep_ms(RETRY_PAUSE_MS);
    }
}

void sl_cli_free_reply(Sluice__Reply *reply)
{
    if (reply != NULL)
        sluice__reply__free_unpacked(reply, NULL);
}

/* A JobRef request: which is SLUICE__REQUEST__BODY_JOB_INFO, _CANCEL_JOB,
 * _CHECKPOINT_STATS or _TRIGGER_CHECKPOINT_NOW. */
int sl_cli_call_job_ref(sl_cli *cli, Sluice__Request__BodyCase which, const char *job_id,
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
    return sl_cli_call(cli, &req, out);
}
