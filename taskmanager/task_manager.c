#include "taskmanager/task_manager.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/closer.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/net_addr.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/network/data_plane.h"
#include "common/tls.h"
#include "taskmanager/jm_leader.h"
#include "taskmanager/tm_session.h"
#include "taskmanager/job_run.h"
#include "taskmanager/task.h"
#include "taskmanager/state/keyed_state_cache.h"
#include "taskmanager/checkpoint/snapshot_uploader.h"

#define RPC_TIMEOUT_MS 5000
#define RPC_MIN_TIMEOUT_MS 100   /* a call near the heartbeat deadline still gets this */
#define HA_REGISTER_TIMEOUT_MS 2000 /* with HA: a registration's timeout */
#define LOOP_MS 50
#define REJOIN_WARN_MS 10000     /* how often waiting to register again is logged */
#define NOT_LEADER_RETRY_MS 1000 /* after "not the leader": register there again after this */
#define REGISTER_REFUSED_BACKOFF_MS 1000 /* after a refused registration */
#define FREE_THREADS_MAX 8       /* threads freeing ended runs; more wait in a queue */
#define FREE_DRAIN_MS 5000       /* the longest wait for them at shutdown */
#define STOP_TASKS_MS 5000       /* the longest wait for cancelled tasks at shutdown */
#define TM_ID_BYTES 8 /* random bytes of a taskmanager id (hex: 16 characters) */
_Static_assert(2 * TM_ID_BYTES <= SL_TM_ID_MAX, "the jobmanager accepts the id");

struct sl_tm {
    const sl_config *cfg;
    char id[2 * TM_ID_BYTES + 1];
    char host[SL_ADDR_HOST_MAX + 1];      /* advertised: in registration, data URL */
    char bind_host[SL_ADDR_HOST_MAX + 1]; /* listened on: taskmanager.bind-host */
    int rpc_port;
    int64_t slots, hb_interval, hb_timeout;
    size_t max_msg, max_frame;
    sl_jmleader *leader;        /* where the jobmanager is; fencing by leader id */
    sl_tmsession session;       /* session token, registration signer */
    char jm_url[SL_ADDR_URL_MAX]; /* of the client in leader ("" if none); client thread */
    uint64_t jm_leader_id;      /* leader id of the jobmanager jm talks to; client thread */
    uint64_t leader_changes;    /* the last sl_jmleader_view.changes followed; client thread */
    int64_t refused_until;      /* "not the leader": no registration before; client thread */
    sl_rpc_server *rpc;
    sl_data_plane *dp;
    sl_uploader *uploader;
    sl_kcache_budget kcache_budget; /* of leveldb states' caches, lent to job runs */
    sl_closer freer;            /* frees ended runs off the jobmanager client thread */
    pthread_rwlock_t runs_lock; /* guards the list; dispatch reads it */
    sl_job_run *runs;
    pthread_mutex_t deploy_mu;  /* guards `deploying`; taken before runs_lock */
    pthread_cond_t deploy_cv;   /* a deploy in progress ended */
    struct deploying *deploying; /* attempts being built by an RPC worker */
    pthread_mutex_t mu;         /* wakes the jobmanager client thread */
    pthread_cond_t cv;
    pthread_t thread;
    atomic_int stopping;
    atomic_int registered;      /* written by the jobmanager client thread only */
    atomic_uint epoch;          /* +1 each time the jobmanager forgets us */
    _Atomic int64_t last_hb_ok; /* read by the uploader's calls too */
    int64_t rejoin_warned;      /* last "waiting to register again" */
    int64_t no_leader_warned;   /* last "no jobmanager leader known" */
};

static void wake(sl_tm *tm)
{
    pthread_mutex_lock(&tm->mu);
    pthread_cond_signal(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
}

/* ---- data plane dispatch (receiver thread) */

static void dispatch(void *arg, nng_msg *msg)
{
    sl_tm *tm = arg;
    sl_frame_hdr h;
    const uint8_t *p;
    size_t n;
    if (sl_frame_parse(nng_msg_body(msg), nng_msg_len(msg), &h, &p, &n) != SL_OK) {
        sl_warn_limited("data plane: dropped a malformed frame of %zu bytes", nng_msg_len(msg));
        nng_msg_free(msg);
        return;
    }
    pthread_rwlock_rdlock(&tm->runs_lock);
    sl_job_run *r = tm->runs;
    while (r != NULL && (r->attempt != h.attempt || memcmp(r->job_id, h.job, 32) != 0))
        r = r->next;
    if (r != NULL)
        sl_job_run_deliver(r, &h, msg);
    else
        nng_msg_free(msg); /* a frame of an earlier attempt or a finished job */
    pthread_rwlock_unlock(&tm->runs_lock);
}

/* ---- RPC handlers (server worker threads) */

static sl_job_run *find_run(sl_tm *tm, const char *job_id, uint32_t attempt)
{
    for (sl_job_run *r = tm->runs; r != NULL; r = r->next)
        if (strcmp(r->job_id, job_id) == 0 && (attempt == 0 || r->attempt == attempt))
            return r;
    return NULL;
}

/* A job attempt being deployed: reserved (under deploy_mu) before its run
 * is built, so an identical deploy served meanwhile by another RPC worker
 * (req0 resends) waits for it instead of building a second run. Lives on
 * the deploying worker's stack. */
struct deploying {
    const char *job_id;
    uint32_t attempt;
    struct deploying *next;
};

static int deploy_in_progress(const sl_tm *tm, const char *job_id, uint32_t attempt)
{
    for (const struct deploying *p = tm->deploying; p != NULL; p = p->next)
        if (p->attempt == attempt && strcmp(p->job_id, job_id) == 0)
            return 1;
    return 0;
}

/* Called with deploy_mu held. 1 if the attempt is deployed (a resent
 * deploy: nothing to do); 0 once nobody else deploys it, after waiting for
 * a deploy in progress (if that one failed, the caller tries again). */
static int wait_deployed(sl_tm *tm, const Sluice__DeployTasks *d)
{
    for (;;) {
        pthread_rwlock_rdlock(&tm->runs_lock);
        int exists = find_run(tm, d->job_id, d->attempt) != NULL;
        pthread_rwlock_unlock(&tm->runs_lock);
        if (exists)
            return 1;
        if (!deploy_in_progress(tm, d->job_id, d->attempt))
            return 0;
        pthread_cond_wait(&tm->deploy_cv, &tm->deploy_mu);
    }
}

static void unreserve(sl_tm *tm, struct deploying *me)
{
    pthread_mutex_lock(&tm->deploy_mu);
    struct deploying **pp = &tm->deploying;
    while (*pp != me)
        pp = &(*pp)->next;
    *pp = me->next;
    pthread_cond_broadcast(&tm->deploy_cv);
    pthread_mutex_unlock(&tm->deploy_mu);
}

#define DEPLOY_LOG_REASON_MAX 512 /* bytes of a failed deploy's reason in the log */

/* A failed deploy, for the log: at most SL_LOG_LIMIT_LINES per window (any
 * peer can send deploys), the job id only if it is one, control bytes of
 * the reason (it may quote the request's file name) shown as '?'. */
static void log_deploy_failure(const Sluice__DeployTasks *d, const char *err)
{
    char why[DEPLOY_LOG_REASON_MAX];
    size_t n = 0;
    for (; err[n] != '\0' && n + 1 < sizeof(why); n++) {
        unsigned char c = (unsigned char)err[n];
        why[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    why[n] = '\0';
    int id_ok = sl_is_hex(d->job_id, SL_JOB_ID_LEN);
    sl_log_every(SL_LOG_ERROR, "deploy of job %s attempt %u failed: %s",
                 id_ok ? d->job_id : "(not a job id)", d->attempt, why);
}

/* Idempotent: a deploy of an attempt that runs, or is being deployed, here
 * answers OK once that deploy succeeded (and is built again if it failed). */
static void handle_deploy(sl_tm *tm, const Sluice__DeployTasks *d, Sluice__Reply *reply,
                          sl_arena *arena)
{
    struct deploying me = {.job_id = d->job_id, .attempt = d->attempt};
    unsigned epoch = atomic_load(&tm->epoch);
    if (d->tm_incarnation != epoch) { /* sent to a registration the jobmanager forgot */
        sl_warn("refusing a deploy of job %.32s attempt %u for incarnation %u of this "
                "taskmanager (now %u)", d->job_id, d->attempt, d->tm_incarnation, epoch);
        reply->status = SLUICE__STATUS__STATUS_FAILED;
        reply->error = "deploy for an earlier registration of this taskmanager";
        return;
    }
    pthread_mutex_lock(&tm->deploy_mu);
    if (wait_deployed(tm, d)) {
        pthread_mutex_unlock(&tm->deploy_mu);
        return; /* a resent deploy */
    }
    me.next = tm->deploying;
    tm->deploying = &me;
    pthread_mutex_unlock(&tm->deploy_mu);

    sl_job_run_env env = {
        .tm_data_url = sl_data_plane_url(tm->dp),
        .tm_inproc_url = sl_data_plane_inproc_url(tm->dp),
        .max_frame = tm->max_frame,
        .uploader = tm->uploader,
        .tm_id = tm->id,
        .kcache_budget = &tm->kcache_budget,
    };
    char err[1024] = "";
    sl_job_run *r;
    if (sl_job_run_create(d, &env, &r, err, sizeof(err)) != SL_OK) {
        log_deploy_failure(d, err);
        reply->status = SLUICE__STATUS__STATUS_FAILED;
        reply->error = sl_arena_strdup(arena, err);
        unreserve(tm, &me);
        return;
    }
    sl_info("deployed %d task(s) of job %s attempt %u", r->ntasks, r->job_id, r->attempt);
    pthread_rwlock_wrlock(&tm->runs_lock);
    r->next = tm->runs;
    tm->runs = r;
    if (atomic_load(&tm->epoch) != epoch) { /* the jobmanager forgot us meanwhile */
        atomic_store(&r->orphaned, 1);
        sl_job_run_cancel(r);
        sl_warn("cancelling job %s attempt %u: deployed by a registration the jobmanager "
                "has forgotten", r->job_id, r->attempt);
    }
    pthread_rwlock_unlock(&tm->runs_lock);
    unreserve(tm, &me); /* after the insert: a waiter then finds the run */
}

static void handle_start_cancel(sl_tm *tm, const Sluice__JobAttempt *ja, int start)
{
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (sl_job_run *r = tm->runs; r != NULL; r = r->next) {
        if (strcmp(r->job_id, ja->job_id) != 0 || (ja->attempt != 0 && r->attempt != ja->attempt))
            continue;
        if (start)
            sl_job_run_start(r);
        else
            sl_job_run_cancel(r);
    }
    pthread_rwlock_unlock(&tm->runs_lock);
    wake(tm);
}

/* Triggers go to the run's source tasks (trig != NULL), notifications to
 * all its tasks. */
static void handle_checkpoint(sl_tm *tm, const char *job_id, uint32_t attempt, uint64_t id,
                              const sl_barrier *trig, int complete)
{
    pthread_rwlock_rdlock(&tm->runs_lock);
    sl_job_run *r = find_run(tm, job_id, attempt);
    for (int i = 0; r != NULL && i < r->ntasks; i++) {
        sl_task *t = r->tasks[i];
        if (trig == NULL)
            sl_ckpt_post_notify(&t->ckpt, id, complete);
        else if (t->ops[0]->ops->run != NULL)
            sl_ckpt_post_trigger(&t->ckpt, trig);
    }
    pthread_rwlock_unlock(&tm->runs_lock);
}

int sl_tm_trigger_barrier(const Sluice__TriggerCheckpoint *tc, sl_barrier *b)
{
    memset(b, 0, sizeof(*b));
    b->id = tc->checkpoint_id;
    b->ts = tc->timestamp_ms;
    b->final = tc->final;
    b->kind = tc->kind == SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT        ? SL_BARRIER_KIND_SAVEPOINT
              : tc->kind == SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT_STOP ? SL_BARRIER_KIND_SAVEPOINT_STOP
                                                                         : SL_BARRIER_KIND_CHECKPOINT;
    if (b->kind == SL_BARRIER_KIND_CHECKPOINT)
        return SL_OK;
    const char *dir = tc->chk_dir != NULL ? tc->chk_dir : "";
    size_t n = strlen(dir);
    if (n == 0 || n > SL_BARRIER_DIR_MAX || dir[0] != '/')
        return SL_EINVAL;
    memcpy(b->dir, dir, n + 1);
    return SL_OK;
}

/* TriggerCheckpoint: the barrier's options (sl_tm_trigger_barrier); a
 * savepoint without a usable folder is refused. */
static void handle_trigger(sl_tm *tm, const Sluice__TriggerCheckpoint *tc, Sluice__Reply *reply)
{
    static _Thread_local sl_barrier b; /* 4 KiB: not on the RPC worker's stack */
    if (sl_tm_trigger_barrier(tc, &b) != SL_OK) {
        reply->status = SLUICE__STATUS__STATUS_INVALID;
        reply->error = "savepoint trigger without a valid absolute folder";
        return;
    }
    handle_checkpoint(tm, tc->job_id, tc->attempt, b.id, &b, 0);
}

static void handle(void *arg, const Sluice__Request *req, Sluice__Reply *reply, sl_arena *arena)
{
    sl_tm *tm = arg;
    if (!sl_tmsession_check(&tm->session, &req->session_token)) {
        sl_warn_limited("refused a %s request without this taskmanager's session token: not "
                        "from the jobmanager it registered with", sl_rpc_kind_name((int)req->body_case));
        reply->status = SLUICE__STATUS__STATUS_DENIED;
        reply->error = "permission denied: not the jobmanager this taskmanager registered with";
        return;
    }
    if (sl_jmleader_fence(tm->leader, req, reply, arena))
        return; /* a deposed leader's */
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_DEPLOY_TASKS:
        handle_deploy(tm, req->deploy_tasks, reply, arena);
        break;
    case SLUICE__REQUEST__BODY_START_TASKS:
        handle_start_cancel(tm, req->start_tasks, 1);
        break;
    case SLUICE__REQUEST__BODY_CANCEL_TASKS:
        handle_start_cancel(tm, req->cancel_tasks, 0);
        break;
    case SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT: {
        handle_trigger(tm, req->trigger_checkpoint, reply);
        break;
    }
    case SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT: {
        const Sluice__NotifyCheckpoint *nc = req->notify_checkpoint;
        handle_checkpoint(tm, nc->job_id, nc->attempt, nc->checkpoint_id, NULL, nc->complete);
        break;
    }
    default:
        reply->status = SLUICE__STATUS__STATUS_INVALID;
        reply->error = "request not served by a taskmanager";
    }
}

/* ---- jobmanager client thread */

/* A call's timeout: RPC_TIMEOUT_MS, but no later than the heartbeat
 * deadline while registered, so that a jobmanager that went silent is
 * noticed within heartbeat.timeout however many calls are waiting; with
 * HA, HA_REGISTER_TIMEOUT_MS while not registered, so that a registration
 * at a leader that just died does not hold the switch to the next one. */
static int call_timeout_ms(const sl_tm *tm)
{
    if (!tm->registered)
        return sl_jmleader_ha(tm->leader) ? HA_REGISTER_TIMEOUT_MS : RPC_TIMEOUT_MS;
    int64_t left = tm->last_hb_ok + tm->hb_timeout - sl_now_ms();
    if (left > RPC_TIMEOUT_MS)
        return RPC_TIMEOUT_MS;
    return left < RPC_MIN_TIMEOUT_MS ? RPC_MIN_TIMEOUT_MS : (int)left;
}

/* SL_EBUSY: the jobmanager is not the leader (STATUS_NOT_LEADER);
 * SL_EINVAL: it refused otherwise; SL_EUNREACH also when no leader is
 * known. Any thread (the uploader's acks too). */
static int call_jm(sl_tm *tm, const Sluice__Request *req, Sluice__Reply **out)
{
    Sluice__Reply *reply = NULL;
    char url[SL_ADDR_URL_MAX];
    uint8_t token[SL_SESSION_TOKEN_LEN];
    Sluice__Request with = *req; /* shallow: the session token added */
    if (with.session_token.len == 0 && sl_tmsession_token(&tm->session, token)) {
        with.session_token.data = token;
        with.session_token.len = sizeof(token);
    }
    int rv = sl_jmleader_call(tm->leader, &with, call_timeout_ms(tm), &reply, url, sizeof(url));
    if (rv != SL_OK)
        return rv;
    if (reply->status == SLUICE__STATUS__STATUS_NOT_LEADER) {
        sl_warn_limited("the jobmanager %s: %s", url, reply->error);
        rv = SL_EBUSY;
    } else if (reply->status != SLUICE__STATUS__STATUS_OK) {
        sl_warn("jobmanager refused a request: %s", reply->error);
        rv = SL_EINVAL;
    }
    if (out != NULL && rv == SL_OK)
        *out = reply;
    else
        sluice__reply__free_unpacked(reply, NULL);
    return rv;
}

/* Cancels every run; orphaned ones are reported to nobody. */
static void cancel_all(sl_tm *tm, const char *why, int orphaned)
{
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (sl_job_run *r = tm->runs; r != NULL; r = r->next) {
        sl_warn("cancelling job %s attempt %u: %s", r->job_id, r->attempt, why);
        if (orphaned)
            atomic_store(&r->orphaned, 1);
        sl_job_run_cancel(r);
    }
    pthread_rwlock_unlock(&tm->runs_lock);
}

/* The jobmanager forgot us (or went silent for heartbeat.timeout): every
 * run is cancelled and reported to nobody; we register again once they
 * have all ended, with every slot free (Flink: the taskmanager disconnects,
 * frees its slots and registers anew). */
static void forget_jm(sl_tm *tm, const char *why)
{
    unsigned next = atomic_fetch_add(&tm->epoch, 1) + 1;
    sl_warn("forgetting the jobmanager %s: %s (registering again as incarnation %u)",
            tm->jm_url, why, next);
    cancel_all(tm, why, 1);
    tm->registered = 0;
    tm->rejoin_warned = sl_now_ms();
}

/* A jobmanager that is not (or no longer) the leader: forget it, ask
 * ZooKeeper again, and register there again only after
 * NOT_LEADER_RETRY_MS (it may be taking over just now) unless ZooKeeper
 * names another leader first (follow_leader). */
static void not_leader(sl_tm *tm, const char *why)
{
    if (tm->registered)
        forget_jm(tm, why);
    tm->refused_until = sl_now_ms() + NOT_LEADER_RETRY_MS;
    sl_jmleader_reread(tm->leader);
}

/* A register or heartbeat reply: raises the highest leader id seen; 0 if
 * it comes from a deposed leader (a leader id below the highest seen). */
static int reply_leader_ok(sl_tm *tm, const Sluice__Reply *reply)
{
    uint64_t highest = sl_jmleader_highest(tm->leader);
    if (reply->leader_id != 0 && reply->leader_id < highest) {
        sl_warn_limited("the jobmanager %s answers with stale leader id %llu; the highest seen "
                        "is %llu", tm->jm_url, (unsigned long long)reply->leader_id,
                        (unsigned long long)highest);
        return 0;
    }
    sl_jmleader_raise(tm->leader, reply->leader_id);
    return 1;
}

static int register_tm(sl_tm *tm)
{
    Sluice__RegisterTm r = SLUICE__REGISTER_TM__INIT;
    r.tm_id = tm->id;
    r.host = tm->host;
    r.rpc_port = (uint32_t)tm->rpc_port;
    r.data_port = (uint32_t)sl_data_plane_port(tm->dp);
    r.pid = (int32_t)getpid();
    r.slots = (uint32_t)tm->slots;
    r.incarnation = atomic_load(&tm->epoch);
    uint8_t token[SL_SESSION_TOKEN_LEN];
    if (sl_tmsession_for(&tm->session, r.incarnation, token) != SL_OK) {
        sl_error("no randomness for a session token: not registering");
        return SL_EIO;
    }
    r.session_token.data = token;
    r.session_token.len = sizeof(token);
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_REGISTER_TM;
    req.register_tm = &r;
    Sluice__Reply *reply = NULL;
    int rv = call_jm(tm, &req, &reply);
    if (rv == SL_EBUSY)
        not_leader(tm, "the jobmanager is not the leader");
    if (rv == SL_EINVAL) /* refused (bad certificate, bad request): not at once again */
        tm->refused_until = sl_now_ms() + REGISTER_REFUSED_BACKOFF_MS;
    if (rv == SL_ETIMEDOUT || rv == SL_EUNREACH)
        sl_warn_limited("cannot register at the jobmanager %s: %s%s", tm->jm_url, sl_strerror(rv),
                        sl_tls_on(SL_TLS_RPC_DIAL)
                            ? " (over TLS: is its certificate signed by our trust-cert, and "
                              "ours by its?)"
                            : "");
    if (rv != SL_OK)
        return rv;
    if (!reply_leader_ok(tm, reply)) {
        rv = SL_EBUSY;
        not_leader(tm, "the jobmanager's leader id is stale");
    } else {
        sl_info("registered at the jobmanager %s as %s (incarnation %u, leader id %llu)",
                tm->jm_url, tm->id, r.incarnation, (unsigned long long)reply->leader_id);
        tm->registered = 1;
        tm->last_hb_ok = sl_now_ms();
    }
    sluice__reply__free_unpacked(reply, NULL);
    return rv;
}

/* The counters of task t of run r into m (strings borrowed from r). */
static void task_metrics(const sl_job_run *r, const sl_task *t, Sluice__TaskMetrics *m)
{
    sluice__task_metrics__init(m);
    m->job_id = (char *)r->job_id;
    m->attempt = r->attempt;
    m->task = (uint32_t)t->index;
    sl_task_read_metrics(t, &m->records_in, &m->records_out, &m->late_records);
}

/* hb->tasks: the metrics of every running task (free both arrays with
 * free()). Only this thread frees runs, so the job ids stay valid. */
static int heartbeat_metrics(sl_tm *tm, Sluice__Heartbeat *hb, Sluice__TaskMetrics **ms)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (sl_job_run *r = tm->runs; r != NULL; r = r->next)
        n += (size_t)r->ntasks;
    if (n > SL_RPC_MAX_TM_TASKS) /* the jobmanager refuses a larger heartbeat whole */
        n = SL_RPC_MAX_TM_TASKS;
    *ms = calloc(n ? n : 1, sizeof(**ms));
    hb->tasks = calloc(n ? n : 1, sizeof(*hb->tasks));
    for (sl_job_run *r = tm->runs; r != NULL && *ms != NULL && hb->tasks != NULL; r = r->next) {
        for (int i = 0; i < r->ntasks && hb->n_tasks < n; i++) {
            if (atomic_load(&r->tasks[i]->state) != SLUICE__TASK_STATE__TASK_RUNNING)
                continue;
            task_metrics(r, r->tasks[i], &(*ms)[hb->n_tasks]);
            hb->tasks[hb->n_tasks] = &(*ms)[hb->n_tasks];
            hb->n_tasks++;
        }
    }
    pthread_rwlock_unlock(&tm->runs_lock);
    return *ms != NULL && hb->tasks != NULL ? SL_OK : SL_ENOMEM;
}

static void heartbeat(sl_tm *tm)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__TaskMetrics *ms = NULL;
    hb.tm_id = tm->id;
    if (heartbeat_metrics(tm, &hb, &ms) != SL_OK)
        hb.n_tasks = 0; /* a heartbeat without metrics still keeps us alive */
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    Sluice__Reply *reply = NULL;
    int rv = call_jm(tm, &req, &reply);
    free(hb.tasks);
    free(ms);
    if (rv == SL_EBUSY)
        not_leader(tm, "the jobmanager is no longer the leader");
    if (rv != SL_OK)
        return; /* jm_silent() judges */
    if (!reply_leader_ok(tm, reply))
        not_leader(tm, "the jobmanager's leader id is stale");
    else if (!reply->known)
        forget_jm(tm, "the jobmanager no longer knows this taskmanager");
    else
        tm->last_hb_ok = sl_now_ms();
    sluice__reply__free_unpacked(reply, NULL);
}

/* No heartbeat answered for heartbeat.timeout: the jobmanager has declared
 * us lost by now (it uses the same timeout). */
static void jm_silent(sl_tm *tm)
{
    int64_t since = sl_now_ms() - tm->last_hb_ok;
    if (tm->registered && since > tm->hb_timeout) {
        char why[96];
        snprintf(why, sizeof(why), "the jobmanager has not answered a heartbeat for %lld ms",
                 (long long)since);
        forget_jm(tm, why);
    }
}

static int report_task(sl_tm *tm, sl_job_run *r, sl_task *t, int state)
{
    Sluice__TaskStateUpdate u = SLUICE__TASK_STATE_UPDATE__INIT;
    u.tm_id = tm->id;
    u.job_id = r->job_id;
    u.attempt = r->attempt;
    u.task = (uint32_t)t->index;
    u.state = (Sluice__TaskState)state;
    u.message = t->failure;
    u.input_ended = sl_ckpt_input_ended(&t->ckpt);
    Sluice__TaskMetrics m;
    task_metrics(r, t, &m);
    u.metrics = &m;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_TASK_STATE;
    req.task_state = &u;
    return call_jm(tm, &req, NULL);
}

/* Reports state changes; returns 1 if everything of r has been reported. */
static int report_run(sl_tm *tm, sl_job_run *r)
{
    int all = 1;
    for (int i = 0; i < r->ntasks; i++) {
        sl_task *t = r->tasks[i];
        int s = atomic_load(&t->state);
        int ended = sl_ckpt_input_ended(&t->ckpt);
        int changed = s != t->reported || ended != t->input_ended_reported;
        if (changed && tm->registered && report_task(tm, r, t, s) == SL_OK) {
            t->reported = s;
            t->input_ended_reported = ended;
        }
        all &= t->reported == s;
    }
    return all;
}

/* Frees a list of ended runs. Their peers' nng_close can hang for good
 * (nng 1.5.2's tcp transport, see tm_calls.c): seen after live garbage
 * and task-failure restarts, with this (the jobmanager client) thread in
 * sl_peer_close, so no heartbeat went out, the jobmanager lost the
 * taskmanager and, the thread being stuck, it never registered again. So
 * runs are freed on the bounded runner tm->freer (common/closer.h): a
 * hang there holds that run and one of its threads, never the heartbeats. */
static void free_runs(void *arg)
{
    sl_job_run *done = arg;
    while (done != NULL) {
        sl_job_run *next = done->next;
        sl_info("job %s attempt %u ended on this taskmanager", done->job_id, done->attempt);
        sl_job_run_free(done);
        done = next;
    }
}

/* Removes runs that ended and were reported; frees them on tm->freer
 * (here if it cannot take them). */
static void reap_runs(sl_tm *tm)
{
    sl_job_run *done = NULL;
    pthread_rwlock_wrlock(&tm->runs_lock);
    for (sl_job_run **pp = &tm->runs; *pp != NULL;) {
        sl_job_run *r = *pp;
        if (r->reap) {
            *pp = r->next;
            r->next = done;
            done = r;
        } else {
            pp = &r->next;
        }
    }
    pthread_rwlock_unlock(&tm->runs_lock);
    if (done != NULL && sl_closer_run(&tm->freer, free_runs, done) != SL_OK) {
        sl_warn_limited("freeing ended job runs on the jobmanager client thread (no memory "
                        "or no thread)");
        free_runs(done);
    }
}

static void report_all(sl_tm *tm)
{
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (sl_job_run *r = tm->runs; r != NULL; r = r->next) {
        int done = sl_job_run_done(r);
        int orphaned = atomic_load(&r->orphaned);
        int reported = !orphaned && report_run(tm, r);
        if (done && (reported || orphaned))
            r->reap = 1;
    }
    pthread_rwlock_unlock(&tm->runs_lock);
    reap_runs(tm);
}

/* 1 once no run is left: the cancelled ones of a forgotten registration
 * have ended, so every slot is free again. */
static int may_register(sl_tm *tm)
{
    int n = 0;
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (const sl_job_run *r = tm->runs; r != NULL; r = r->next)
        n++;
    pthread_rwlock_unlock(&tm->runs_lock);
    if (n > 0 && sl_now_ms() - tm->rejoin_warned >= REJOIN_WARN_MS) {
        sl_warn("waiting for %d cancelled job run(s) to end before registering again", n);
        tm->rejoin_warned = sl_now_ms();
    }
    return n == 0;
}

/* 1 if a run not cancelled as orphaned is left (one the jobmanager we
 * talk to may count on). */
static int has_live_runs(sl_tm *tm)
{
    int live = 0;
    pthread_rwlock_rdlock(&tm->runs_lock);
    for (const sl_job_run *r = tm->runs; r != NULL && !live; r = r->next)
        live = !atomic_load(&r->orphaned);
    pthread_rwlock_unlock(&tm->runs_lock);
    return live;
}

/* Talks to url (NULL: nobody) from now on (the old client is closed on
 * tm->freer: nng_close can hang, see free_runs). */
static void swap_jm(sl_tm *tm, const char *url, uint64_t leader_id)
{
    sl_jmleader_connect(tm->leader, url);
    sl_jmleader_connected(tm->leader, tm->jm_url, sizeof(tm->jm_url));
    tm->jm_leader_id = leader_id;
    tm->refused_until = 0;
}

/* Follows the leader tm->leader reports: another one (or none) is a new
 * jobmanager, so the old one is forgotten as by forget_jm (every run
 * cancelled, the next incarnation registers once they ended). */
static void follow_leader(sl_tm *tm)
{
    sl_jmleader_view v;
    sl_jmleader_current(tm->leader, &v);
    if (v.changes == tm->leader_changes)
        return;
    tm->leader_changes = v.changes;
    int talking = tm->jm_url[0] != '\0';
    if (v.known && talking && v.leader_id == tm->jm_leader_id &&
        strcmp(v.url, tm->jm_url) == 0)
        return; /* the same jobmanager */
    if (talking && (tm->registered || has_live_runs(tm))) {
        char why[SL_ADDR_URL_MAX + 96];
        if (v.known)
            snprintf(why, sizeof(why), "the jobmanager leader changed to %s (leader id %llu)",
                     v.url, (unsigned long long)v.leader_id);
        else
            snprintf(why, sizeof(why), "no jobmanager is the leader any more");
        forget_jm(tm, why);
    }
    swap_jm(tm, v.known ? v.url : NULL, v.leader_id);
}

/* 1 if there is a jobmanager to register with now. */
static int leader_usable(sl_tm *tm)
{
    if (tm->jm_url[0] != '\0')
        return sl_now_ms() >= tm->refused_until;
    if (sl_now_ms() - tm->no_leader_warned >= REJOIN_WARN_MS) {
        sl_warn("no jobmanager leader is known (ZooKeeper): not registering yet");
        tm->no_leader_warned = sl_now_ms();
    }
    return 0;
}

static void *jm_client_main(void *arg)
{
    sl_tm *tm = arg;
    int64_t next_hb = 0;
    while (!atomic_load(&tm->stopping)) {
        follow_leader(tm);
        if (!tm->registered && may_register(tm) && leader_usable(tm))
            register_tm(tm);
        if (tm->registered && sl_now_ms() >= next_hb) {
            heartbeat(tm);
            next_hb = sl_now_ms() + tm->hb_interval;
        }
        report_all(tm);
        jm_silent(tm);
        pthread_mutex_lock(&tm->mu);
        struct timespec until;
        sl_deadline_in(CLOCK_REALTIME, LOOP_MS, &until);
        pthread_cond_timedwait(&tm->cv, &tm->mu, &until);
        pthread_mutex_unlock(&tm->mu);
    }
    return NULL;
}

/* Uploader thread: sends an ack or decline; a lost ack only lets the
 * checkpoint expire. */
static void send_ack(void *arg, const Sluice__AckCheckpoint *ack)
{
    sl_tm *tm = arg;
    Sluice__AckCheckpoint a = *ack;
    a.tm_id = tm->id;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_ACK_CHECKPOINT;
    req.ack_checkpoint = &a;
    if (call_jm(tm, &req, NULL) != SL_OK)
        sl_warn("could not acknowledge checkpoint %llu of job %s",
                (unsigned long long)ack->checkpoint_id, ack->job_id);
}

/* ---- start / stop */

static int read_config(sl_tm *tm)
{
    int64_t v;
    sl_addr_endpoint ep;
    char err[1024];
    int rv = sl_addr_taskmanager(tm->cfg, &ep, err, sizeof(err));
    if (rv != SL_OK) {
        sl_error("%s", err);
        return rv;
    }
    snprintf(tm->host, sizeof(tm->host), "%s", ep.advertised);
    snprintf(tm->bind_host, sizeof(tm->bind_host), "%s", ep.bind);
    sl_config_get_int(tm->cfg, "taskmanager.numberOfTaskSlots", &tm->slots);
    sl_config_get_ms(tm->cfg, "heartbeat.interval", &tm->hb_interval);
    sl_config_get_ms(tm->cfg, "heartbeat.timeout", &tm->hb_timeout);
    sl_kcache_budget_from_config(&tm->kcache_budget, tm->cfg);
    sl_config_get_bytes(tm->cfg, "rpc.max-message-size", &v);
    tm->max_msg = (size_t)v;
    sl_config_get_bytes(tm->cfg, "taskmanager.memory.network.buffer-size", &v);
    tm->max_frame = (size_t)v + SL_FRAME_HDR_LEN + 1024;
    rv = sl_tmsession_init(&tm->session, tm->cfg, err, sizeof(err));
    if (rv != SL_OK) {
        sl_error("%s", err);
        return rv;
    }
    rv = sl_jmleader_start(tm->cfg, &tm->freer, &tm->leader);
    if (rv != SL_OK)
        sl_error("cannot start following the jobmanager leader (%s)", sl_strerror(rv));
    else
        sl_jmleader_set_signer(tm->leader, tm->session.signer);
    return rv;
}

static int start_endpoints(sl_tm *tm)
{
    int64_t port;
    char url[SL_ADDR_URL_MAX];
    sl_config_get_int(tm->cfg, "taskmanager.data.port", &port);
    int rv = sl_data_plane_start(tm->bind_host, tm->host, (int)port, tm->id, tm->max_frame, dispatch, tm, &tm->dp);
    if (rv != SL_OK)
        return rv;
    sl_config_get_int(tm->cfg, "taskmanager.rpc.port", &port);
    sl_addr_url(tm->bind_host, (int)port, url, sizeof(url));
    rv = sl_rpc_server_start_role(SL_RPC_SERVE_TASKMANAGER, url, 2, tm->max_msg, handle, tm,
                                  &tm->rpc, &tm->rpc_port);
    if (rv != SL_OK)
        return rv;
    sl_tls_warn_plain("the taskmanager", tm->bind_host, SL_TLS_RPC_LISTEN);
    follow_leader(tm); /* without HA: the client to the configured jobmanager, now */
    return sl_jmleader_ha(tm->leader) || tm->jm_url[0] != '\0' ? SL_OK : SL_EINVAL;
}

int sl_tm_start(const sl_config *cfg, sl_tm **out)
{
    sl_tm *tm = calloc(1, sizeof(*tm));
    if (tm == NULL)
        return SL_ENOMEM;
    if (sl_closer_init(&tm->freer, FREE_THREADS_MAX) != SL_OK) {
        free(tm);
        return SL_ENOMEM;
    }
    tm->cfg = cfg;
    pthread_rwlock_init(&tm->runs_lock, NULL);
    pthread_mutex_init(&tm->deploy_mu, NULL);
    pthread_cond_init(&tm->deploy_cv, NULL);
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->cv, NULL);
    sl_random_hex(tm->id, TM_ID_BYTES);
    int rv = read_config(tm);
    if (rv == SL_OK)
        rv = start_endpoints(tm);
    if (rv == SL_OK)
        rv = sl_uploader_start(send_ack, tm, &tm->uploader);
    if (rv == SL_OK && pthread_create(&tm->thread, NULL, jm_client_main, tm) != 0)
        rv = SL_ENOMEM;
    if (rv != SL_OK) {
        sl_uploader_stop(tm->uploader);
        sl_rpc_server_stop(tm->rpc);
        sl_jmleader_stop(tm->leader);
        sl_data_plane_stop(tm->dp);
        sl_closer_drain(&tm->freer, FREE_DRAIN_MS);
        sl_closer_destroy(&tm->freer);
        sl_tmsession_destroy(&tm->session);
        free(tm);
        return rv;
    }
    sl_info("taskmanager %s: advertised %s (listening on %s), rpc port %d, data %s, %lld "
            "slot(s), jobmanager %s", tm->id, tm->host, tm->bind_host, tm->rpc_port,
            sl_data_plane_url(tm->dp), (long long)tm->slots,
            sl_jmleader_ha(tm->leader) ? "the leader in ZooKeeper" : tm->jm_url);
    *out = tm;
    return SL_OK;
}

/* Waits (bounded) for every run's tasks to end after a cancel. */
static void wait_runs_done(sl_tm *tm, int64_t ms)
{
    int64_t deadline = sl_now_ms() + ms;
    for (;;) {
        pthread_rwlock_rdlock(&tm->runs_lock);
        int busy = 0;
        for (sl_job_run *r = tm->runs; r != NULL; r = r->next)
            busy |= !sl_job_run_done(r);
        pthread_rwlock_unlock(&tm->runs_lock);
        if (!busy || sl_now_ms() > deadline)
            break;
        sl_sleep_ms(20);
    }
}

/* Hands every run left to tm->freer and waits for all frees, bounded;
 * returns how many are still running. */
static int free_all_runs(sl_tm *tm)
{
    pthread_rwlock_wrlock(&tm->runs_lock);
    sl_job_run *left = tm->runs;
    tm->runs = NULL;
    pthread_rwlock_unlock(&tm->runs_lock);
    if (left != NULL && sl_closer_run(&tm->freer, free_runs, left) != SL_OK)
        free_runs(left);
    return sl_closer_drain(&tm->freer, FREE_DRAIN_MS);
}

void sl_tm_stop(sl_tm *tm)
{
    cancel_all(tm, "the taskmanager is stopping", 0);
    wait_runs_done(tm, STOP_TASKS_MS);
    atomic_store(&tm->stopping, 1);
    wake(tm);
    pthread_join(tm->thread, NULL);
    sl_rpc_server_stop(tm->rpc); /* no handler touches the runs from here on */
    int hung = free_all_runs(tm);
    if (hung > 0) { /* their tasks may still use the uploader, the cache budget, tm */
        sl_warn("%d free(s) of ended job runs or old jobmanager clients still running "
                "after %d ms at shutdown: leaving the taskmanager's state allocated", hung,
                FREE_DRAIN_MS);
        return;
    }
    sl_uploader_stop(tm->uploader); /* its acks use tm->leader's client */
    sl_jmleader_stop(tm->leader);
    sl_data_plane_stop(tm->dp);
    sl_closer_destroy(&tm->freer);
    sl_tmsession_destroy(&tm->session);
    pthread_rwlock_destroy(&tm->runs_lock);
    pthread_mutex_destroy(&tm->deploy_mu);
    pthread_cond_destroy(&tm->deploy_cv);
    pthread_mutex_destroy(&tm->mu);
    pthread_cond_destroy(&tm->cv);
    free(tm);
}
