/* The jobmanager leader as the taskmanager sees it, and fencing by leader
 * id (see jm_leader.h). */
#include "taskmanager/jm_leader.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ha.h"
#include "common/log.h"
#include "common/rpc_bounds.h"
#include "common/status.h"
#include "common/zk.h"
#include "common/util.h"

#define PORT_MAX 65535
#define PORT_DIGITS_MAX 5

struct sl_jmleader {
    sl_config *cfg; /* own copy */
    int ha;
    sl_closer *closer;        /* closes replaced clients */
    pthread_rwlock_t jm_lock; /* held (read) around every call on jm, (write) to swap it */
    sl_rpc_client *jm;        /* NULL while none */
    sl_auth_signer *signer;   /* not owned: signs registrations of new clients */
    char jm_url[SL_ADDR_URL_MAX];
    _Atomic uint64_t highest; /* fencing: the highest leader id seen */
    pthread_mutex_t mu;       /* guards what follows */
    pthread_cond_t cv;        /* dirty or stopping */
    sl_jmleader_view view;
    int dirty;    /* a watch fired or a re-read was asked for */
    int stopping; /* sl_jmleader_stop was called */
    int exited;   /* the thread is done with everything but l */
    int orphan;   /* the stopper gave up waiting: the thread frees l */
    int started;
    pthread_t thread;
};

/* ---- parsing a latch's address */

static int host_char_ok(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
}

/* The port after the last ':' of hp (1..65535), or -1. */
static int parse_port(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > PORT_DIGITS_MAX)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= PORT_MAX ? v : -1;
}

int sl_jmleader_url_of(const char *hp, char *url, size_t len)
{
    const char *colon = strrchr(hp, ':');
    if (colon == NULL)
        return SL_EINVAL;
    int port = parse_port(colon + 1);
    const char *h = hp;
    size_t hn = (size_t)(colon - hp);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') { /* "[v6]:port" */
        h++;
        hn -= 2;
    } else if (memchr(h, ':', hn) != NULL) { /* a bare v6 address needs brackets */
        return SL_EINVAL;
    }
    if (port < 0 || hn == 0 || hn > SL_ADDR_HOST_MAX)
        return SL_EINVAL;
    char host[SL_ADDR_HOST_MAX + 1];
    for (size_t i = 0; i < hn; i++) {
        if (!host_char_ok((unsigned char)h[i]))
            return SL_EINVAL;
        host[i] = h[i];
    }
    host[hn] = '\0';
    return sl_addr_url(host, port, url, len);
}

/* ---- fencing */

void sl_jmleader_raise(sl_jmleader *l, uint64_t id)
{
    uint64_t cur = atomic_load(&l->highest);
    while (id > cur && !atomic_compare_exchange_weak(&l->highest, &cur, id))
        ;
}

uint64_t sl_jmleader_highest(const sl_jmleader *l)
{
    return atomic_load(&((sl_jmleader *)l)->highest);
}

int sl_jmleader_admit(sl_jmleader *l, uint64_t id, uint64_t *highest)
{
    uint64_t cur = atomic_load(&l->highest);
    for (;;) {
        if (id < cur) {
            *highest = cur;
            return SL_EBUSY;
        }
        if (id == cur || atomic_compare_exchange_weak(&l->highest, &cur, id))
            return SL_OK;
    }
}

/* The name of a request a jobmanager sends; NULL for any other. */
static const char *jobmanager_request(const Sluice__Request *req)
{
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_DEPLOY_TASKS:
        return "deploy";
    case SLUICE__REQUEST__BODY_START_TASKS:
        return "start";
    case SLUICE__REQUEST__BODY_CANCEL_TASKS:
        return "cancel";
    case SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT:
        return "checkpoint trigger";
    case SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT:
        return "checkpoint notification";
    default:
        return NULL;
    }
}

int sl_jmleader_fence(sl_jmleader *l, const Sluice__Request *req, Sluice__Reply *reply,
                      sl_arena *arena)
{
    uint64_t highest = 0;
    const char *what = jobmanager_request(req);
    if (what == NULL || sl_jmleader_admit(l, req->leader_id, &highest) == SL_OK)
        return 0;
    sl_warn_limited("refusing a %s with stale leader id %llu; the highest seen is %llu", what,
                    (unsigned long long)req->leader_id, (unsigned long long)highest);
    reply->status = SLUICE__STATUS__STATUS_FAILED;
    reply->error = sl_arena_printf(arena, "stale leader id %llu; the highest seen is %llu",
                                   (unsigned long long)req->leader_id, (unsigned long long)highest);
    if (reply->error == NULL)
        reply->error = "stale leader id";
    return 1;
}

/* ---- the client to the jobmanager */

static void close_client(void *arg)
{
    sl_rpc_client_close(arg);
}

void sl_jmleader_set_signer(sl_jmleader *l, sl_auth_signer *signer)
{
    l->signer = signer;
}

int sl_jmleader_connect(sl_jmleader *l, const char *url)
{
    sl_rpc_client *fresh = NULL;
    char err[512];
    int rv = SL_OK;
    if (url != NULL && sl_rpc_client_open(url, 0, SL_RPC_TM_MAX_MSG, NULL, NULL, &fresh, err,
                                          sizeof(err)) != SL_OK) {
        sl_error("%s", err);
        rv = SL_EINVAL;
    }
    if (fresh != NULL)
        sl_rpc_client_set_signer(fresh, l->signer, SLUICE__REQUEST__BODY_REGISTER_TM);
    pthread_rwlock_wrlock(&l->jm_lock);
    sl_rpc_client *old = l->jm;
    l->jm = fresh;
    snprintf(l->jm_url, sizeof(l->jm_url), "%s", fresh != NULL ? url : "");
    pthread_rwlock_unlock(&l->jm_lock);
    if (old != NULL && sl_closer_run(l->closer, close_client, old) != SL_OK)
        sl_rpc_client_close(old);
    return rv;
}

int sl_jmleader_connected(sl_jmleader *l, char *url, size_t len)
{
    pthread_rwlock_rdlock(&l->jm_lock);
    int open = l->jm != NULL;
    snprintf(url, len, "%s", l->jm_url);
    pthread_rwlock_unlock(&l->jm_lock);
    return open;
}

int sl_jmleader_call(sl_jmleader *l, const Sluice__Request *req, int timeout_ms,
                     Sluice__Reply **out, char *url, size_t len)
{
    pthread_rwlock_rdlock(&l->jm_lock);
    int rv = l->jm != NULL ? sl_rpc_call(l->jm, req, timeout_ms, out) : SL_EUNREACH;
    snprintf(url, len, "%s", l->jm_url);
    pthread_rwlock_unlock(&l->jm_lock);
    return rv;
}

/* ---- the current leader */

int sl_jmleader_ha(const sl_jmleader *l)
{
    return l->ha;
}

void sl_jmleader_current(sl_jmleader *l, sl_jmleader_view *out)
{
    pthread_mutex_lock(&l->mu);
    *out = l->view;
    pthread_mutex_unlock(&l->mu);
}

void sl_jmleader_reread(sl_jmleader *l)
{
    if (!l->ha)
        return;
    pthread_mutex_lock(&l->mu);
    l->dirty = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Sets the view (url NULL: no leader); counts and logs a change. */
static void publish(sl_jmleader *l, const char *url, uint64_t id)
{
    int known = url != NULL;
    if (!known)
        url = "";
    pthread_mutex_lock(&l->mu);
    sl_jmleader_view *v = &l->view;
    int changed = v->changes == 0 || v->known != known || v->leader_id != id ||
                  strcmp(v->url, url) != 0; /* the first read counts */
    if (changed) {
        v->known = known;
        v->leader_id = id;
        snprintf(v->url, sizeof(v->url), "%s", url);
        v->changes++;
    }
    pthread_mutex_unlock(&l->mu);
    if (changed && known)
        sl_info("the jobmanager leader is %s (leader id %llu)", url, (unsigned long long)id);
    else if (changed)
        sl_warn("no jobmanager is the leader (none runs for leader in ZooKeeper)");
}

/* ---- the ZooKeeper thread */

/* On the client library's event thread: never blocks beyond the mutex. */
static void on_watch(void *ctx, int event, const char *path)
{
    (void)event;
    (void)path;
    sl_jmleader *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->dirty = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Reads the leader once; SL_ECLOSED: connect again. */
static int read_leader(sl_jmleader *l, sl_zk *zk)
{
    char addr[SL_HA_ADDR_MAX], url[SL_ADDR_URL_MAX];
    uint64_t id = 0;
    int rv = sl_ha_leader_read(zk, l->cfg, 1, addr, sizeof(addr), &id);
    if (rv == SL_ENOTFOUND) {
        publish(l, NULL, 0);
    } else if (rv == SL_OK && sl_jmleader_url_of(addr, url, sizeof(url)) == SL_OK) {
        sl_jmleader_raise(l, id);
        publish(l, url, id);
    } else if (rv == SL_OK || rv == SL_EINVAL) {
        sl_warn_limited("the leader latch in ZooKeeper holds no usable address: keeping the "
                        "last leader");
    } else if (rv != SL_ECLOSED) {
        sl_warn_limited("cannot read the jobmanager leader from ZooKeeper (%s): keeping the "
                        "last leader", sl_strerror(rv));
    }
    return rv;
}

/* Waits until dirty, stopping or ms passed; clears dirty. 1 if stopping. */
static int wait_event(sl_jmleader *l, int64_t ms)
{
    struct timespec until;
    sl_deadline_in(CLOCK_REALTIME, ms, &until);
    pthread_mutex_lock(&l->mu);
    while (!l->dirty && !l->stopping && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0)
        ;
    l->dirty = 0;
    int stop = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return stop;
}

static int is_stopping(sl_jmleader *l)
{
    pthread_mutex_lock(&l->mu);
    int stop = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return stop;
}

static void free_leader(sl_jmleader *l)
{
    sl_config_free(l->cfg);
    pthread_rwlock_destroy(&l->jm_lock);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static sl_zk *connect_zk(sl_jmleader *l)
{
    sl_zk *zk = NULL;
    int rv = sl_ha_connect(l->cfg, on_watch, l, &zk);
    if (rv == SL_OK) {
        sl_info("connected to ZooKeeper (session 0x%llx) to follow the jobmanager leader",
                (unsigned long long)sl_zk_session_id(zk));
        return zk;
    }
    sl_warn_limited("cannot connect to ZooKeeper to find the jobmanager leader (%s); "
                    "trying again", sl_strerror(rv));
    return NULL;
}

static void *leader_main(void *arg)
{
    sl_jmleader *l = arg;
    sl_zk *zk = NULL;
    while (!is_stopping(l)) {
        if (zk == NULL && (zk = connect_zk(l)) == NULL) {
            wait_event(l, SL_JMLEADER_RETRY_MS);
            continue;
        }
        if (sl_zk_state(zk) == SL_ZK_EXPIRED || read_leader(l, zk) == SL_ECLOSED) {
            sl_warn("the ZooKeeper session expired: connecting again");
            sl_zk_close(zk);
            zk = NULL;
            continue;
        }
        wait_event(l, SL_JMLEADER_REREAD_MS);
    }
    sl_zk_close(zk);
    pthread_mutex_lock(&l->mu);
    l->exited = 1;
    int orphan = l->orphan;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (orphan)
        free_leader(l);
    return NULL;
}

/* ---- start / stop */

/* Without HA: jobmanager.rpc.address/port, leader id 0, for good. */
static int static_leader(sl_jmleader *l)
{
    const char *host = NULL;
    int64_t port = 0;
    sl_config_get_string(l->cfg, "jobmanager.rpc.address", &host);
    sl_config_get_int(l->cfg, "jobmanager.rpc.port", &port);
    if (host == NULL || sl_addr_url(host, (int)port, l->view.url, sizeof(l->view.url)) != SL_OK)
        return SL_EINVAL;
    l->view.known = 1;
    l->view.changes = 1;
    return SL_OK;
}

int sl_jmleader_start(const sl_config *cfg, sl_closer *closer, sl_jmleader **out)
{
    sl_jmleader *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return SL_ENOMEM;
    if (sl_config_dup(cfg, &l->cfg) != SL_OK) {
        free(l);
        return SL_ENOMEM;
    }
    l->closer = closer;
    pthread_rwlockattr_t attr; /* a swap must not starve behind back-to-back acks */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&l->jm_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->ha = sl_ha_enabled(cfg);
    int rv = SL_OK;
    if (!l->ha)
        rv = static_leader(l);
    else if (pthread_create(&l->thread, NULL, leader_main, l) != 0)
        rv = SL_ENOMEM;
    else
        l->started = 1;
    if (rv != SL_OK) {
        free_leader(l);
        return rv;
    }
    *out = l;
    return SL_OK;
}

void sl_jmleader_stop(sl_jmleader *l)
{
    if (l == NULL)
        return;
    sl_rpc_client_close(l->jm);
    l->jm = NULL;
    if (!l->started) {
        free_leader(l);
        return;
    }
    struct timespec until;
    sl_deadline_in(CLOCK_REALTIME, SL_JMLEADER_STOP_MS, &until);
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cv);
    while (!l->exited && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0)
        ;
    int exited = l->exited;
    pthread_t th = l->thread;
    if (!exited)
        l->orphan = 1; /* the thread frees l once its ZooKeeper call returns */
    pthread_mutex_unlock(&l->mu);
    if (!exited) { /* l may be gone from here on */
        sl_warn("the ZooKeeper thread is still in a call at shutdown: leaving it to end");
        pthread_detach(th);
        return;
    }
    pthread_join(l->thread, NULL);
    free_leader(l);
}
