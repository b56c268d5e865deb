/* Registered taskmanagers: registration, heartbeats, connection watch, loss.
 *
 * A taskmanager is RUNNING from its registration until its connection drops
 * or its heartbeats stop; then it is LOST and stays listed for
 * SL_JM_LOST_KEEP_MS unless it registers again. A loss is kept pending
 * until the job module takes it (sl_tmreg_take_loss) and fails the jobs
 * with tasks on it: the registry never calls up. The loop thread owns every
 * client: it opens one after a (re)registration, which dials in the
 * background (a peer that accepts TCP but never answers must not hold the
 * loop), and closes it once the taskmanager is lost. The taskmanager is
 * usable (slots, calls) once the connection is up; one that does not come
 * up within the heartbeat timeout is lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"

sl_tmreg_entry *sl_tmreg_find(sl_jm *jm, const char *tm_id)
{
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next)
        if (strcmp(tm->id, tm_id) == 0)
            return tm;
    return NULL;
}

int sl_tmreg_usable(const sl_tmreg_entry *tm)
{
    return tm->state == SL_TMREG_RUNNING && tm->client != NULL && tm->conn != NULL &&
           tm->conn->up;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > SL_TM_ID_MAX)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int valid_host(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > SL_JM_HOST_MAX)
        return 0;
    return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:[]") ==
           n;
}

static int check_registration(const Sluice__RegisterTm *r, char *err, size_t errlen)
{
    if (!valid_id(r->tm_id))
        snprintf(err, errlen, "bad taskmanager id");
    else if (!valid_host(r->host))
        snprintf(err, errlen, "bad taskmanager host");
    else if (r->rpc_port == 0 || r->rpc_port > 65535 || r->data_port == 0 ||
             r->data_port > 65535)
        snprintf(err, errlen, "bad taskmanager port");
    else if (r->slots == 0 || r->slots > SL_MAX_TM_SLOTS)
        snprintf(err, errlen, "bad number of task slots");
    else if (r->session_token.len != SL_SESSION_TOKEN_LEN)
        snprintf(err, errlen, "registration without a session token of %d bytes",
                 SL_SESSION_TOKEN_LEN);
    else
        return SL_OK;
    return SL_EINVAL;
}

/* "host:rpc_port" of tm for messages (IPv6 in brackets). */
static const char *tm_addr(const sl_tmreg_entry *tm, char *buf, size_t len)
{
    if (sl_addr_hostport(tm->host, (int)tm->rpc_port, buf, len) != SL_OK)
        snprintf(buf, len, "%s", tm->host);
    return buf;
}

static void tm_update(sl_tmreg_entry *tm, const Sluice__RegisterTm *r)
{
    snprintf(tm->host, sizeof(tm->host), "%s", r->host);
    tm->rpc_port = r->rpc_port;
    tm->data_port = r->data_port;
    tm->pid = r->pid;
    tm->slots = (int)r->slots;
    tm->incarnation = r->incarnation;
    memcpy(tm->token, r->session_token.data, SL_SESSION_TOKEN_LEN);
    if (tm->client != NULL) /* jm->mu held: the loop swaps clients under it too */
        sl_rpc_client_set_token(tm->client, tm->token, SL_SESSION_TOKEN_LEN);
}

int sl_tmreg_token_ok(const sl_tmreg_entry *tm, const ProtobufCBinaryData *tok)
{
    return tm != NULL && tok->len == SL_SESSION_TOKEN_LEN &&
           sl_ct_equal(tm->token, tok->data, SL_SESSION_TOKEN_LEN);
}

static int tm_add(sl_jm *jm, const Sluice__RegisterTm *r, sl_tmreg_entry **out)
{
    if (jm->ntms >= SL_JM_MAX_TMS)
        return SL_ENOSPC;
    sl_tmreg_entry *tm = calloc(1, sizeof(*tm));
    if (tm == NULL)
        return SL_ENOMEM;
    snprintf(tm->id, sizeof(tm->id), "%s", r->tm_id);
    tm->order = ++jm->tm_order;
    sl_tmreg_entry **tail = &jm->tms;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = tm;
    jm->ntms++;
    *out = tm;
    return SL_OK;
}

static int tm_register_new(sl_jm *jm, const Sluice__RegisterTm *r, char *err, size_t errlen)
{
    sl_tmreg_entry *tm;
    int rv = tm_add(jm, r, &tm);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot register taskmanager %s: %s", r->tm_id, sl_strerror(rv));
        return rv;
    }
    tm_update(tm, r);
    tm->state = SL_TMREG_RUNNING;
    tm->want_connect = 1;
    tm->last_hb_ms = sl_now_ms();
    char addr[SL_ADDR_URL_MAX];
    sl_info("taskmanager %s registered: %s, data port %u, pid %d, %d slots", tm->id,
            tm_addr(tm, addr, sizeof(addr)), tm->data_port, (int)tm->pid, tm->slots);
    return SL_OK;
}

/* A registration of a known id: the same taskmanager again (a resent
 * request), one that comes back after it was lost, or a new incarnation of
 * one still RUNNING here (it gave up on us, e.g. after a one-way partition:
 * its tasks are gone, so it is lost first, then RUNNING again). */
static void tm_register_again(sl_jm *jm, sl_tmreg_entry *tm, const Sluice__RegisterTm *r)
{
    char addr[SL_ADDR_URL_MAX];
    int moved = strcmp(tm->host, r->host) != 0 || tm->rpc_port != r->rpc_port;
    if (tm->state == SL_TMREG_RUNNING && r->incarnation != tm->incarnation) {
        char why[96];
        snprintf(why, sizeof(why), "registered again as incarnation %u (was %u): its tasks are gone",
                 r->incarnation, tm->incarnation);
        sl_tmreg_lose(jm, tm, why);
    }
    tm_update(tm, r);
    tm->last_hb_ms = sl_now_ms();
    if (tm->state == SL_TMREG_LOST) {
        tm->state = SL_TMREG_RUNNING;
        tm->want_connect = 1;
        sl_info("taskmanager %s registered again after it was lost: %s, %d slots", tm->id,
                tm_addr(tm, addr, sizeof(addr)), tm->slots);
    } else if (moved) {
        tm->want_connect = 1;
        sl_info("taskmanager %s registered again at a new address %s", tm->id,
                tm_addr(tm, addr, sizeof(addr)));
    }
}

int sl_tmreg_register(sl_jm *jm, const Sluice__RegisterTm *r, char *err, size_t errlen)
{
    int rv = check_registration(r, err, errlen);
    if (rv != SL_OK)
        return rv;
    sl_tmreg_entry *tm = sl_tmreg_find(jm, r->tm_id);
    if (tm == NULL)
        rv = tm_register_new(jm, r, err, errlen);
    else
        tm_register_again(jm, tm, r);
    if (rv == SL_OK)
        sl_wake_kick(&jm->wake);
    return rv;
}

int sl_tmreg_heartbeat(sl_jm *jm, const char *tm_id, const ProtobufCBinaryData *tok)
{
    sl_tmreg_entry *tm = sl_tmreg_find(jm, tm_id);
    if (tm == NULL || tm->state != SL_TMREG_RUNNING)
        return 0;
    if (!sl_tmreg_token_ok(tm, tok)) {
        sl_warn_limited("a heartbeat for taskmanager %s without its session token: refused",
                        tm->id);
        return 0;
    }
    tm->last_hb_ms = sl_now_ms();
    return 1;
}

int sl_tmreg_stalled(const sl_tmreg_entry *tm)
{
    return tm->stalled_ms != 0 && tm->last_hb_ms <= tm->stalled_ms;
}

void sl_tmreg_lose(sl_jm *jm, sl_tmreg_entry *tm, const char *why)
{
    if (tm->state == SL_TMREG_LOST)
        return;
    tm->state = SL_TMREG_LOST;
    tm->lost_ms = sl_now_ms();
    tm->want_connect = 0;
    char reason[1024];
    char addr[SL_ADDR_URL_MAX];
    snprintf(reason, sizeof(reason), "taskmanager %s (%s) lost: %s", tm->id,
             tm_addr(tm, addr, sizeof(addr)), why);
    sl_warn("%s", reason);
    free(tm->loss);
    tm->loss = strdup(reason);
    tm->loss_seq = ++jm->loss_seq;
    if (tm->loss == NULL)
        sl_error("taskmanager %s: out of memory: its jobs are not told of its loss", tm->id);
}

int sl_tmreg_take_loss(sl_jm *jm, char *tm_id, char *reason, size_t len)
{
    sl_tmreg_entry *oldest = NULL;
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next)
        if (tm->loss != NULL && (oldest == NULL || tm->loss_seq < oldest->loss_seq))
            oldest = tm;
    if (oldest == NULL)
        return 0;
    snprintf(tm_id, SL_TM_ID_MAX + 1, "%s", oldest->id);
    snprintf(reason, len, "%s", oldest->loss);
    free(oldest->loss);
    oldest->loss = NULL;
    return 1;
}

/* Failed calls: a dropped connection is the cause to report (the job fails
 * with the taskmanager's loss); a checkpoint call that timed out makes
 * further checkpoint calls skip the taskmanager until its next heartbeat. */
void sl_tmreg_call_ended(sl_jm *jm, const sl_tmcall_outcome *o)
{
    sl_tmreg_entry *tm = sl_tmreg_find(jm, o->key.tm_id);
    if (tm == NULL || o->rv == SL_OK || o->rv == SL_ECANCELED)
        return;
    int chk = o->key.kind == SL_TMCALL_TRIGGER || o->key.kind == SL_TMCALL_NOTIFY;
    if (chk && o->rv == SL_ETIMEDOUT && tm->state == SL_TMREG_RUNNING) {
        tm->stalled_ms = sl_now_ms();
        sl_warn("taskmanager %s did not answer within %lld ms; checkpoint calls skip it until "
                "its next heartbeat", tm->id, (long long)jm->chk_rpc_timeout_ms);
    }
    if (tm->conn != NULL && tm->conn->dropped)
        sl_tmreg_lose(jm, tm, "connection dropped");
}

/* ---- loop side */

static void tm_pipe_cb(void *arg, int up)
{
    sl_tmreg_conn *conn = arg;
    pthread_mutex_lock(&conn->jm->mu);
    if (up)
        conn->up = 1;
    else
        conn->dropped = 1;
    sl_wake_kick(&conn->jm->wake);
    pthread_mutex_unlock(&conn->jm->mu);
}

/* Stops tm's calls, then hands its client to the closer (nng waits there
 * for pipe and call completions, which take jm->mu, and may hang: see
 * tm_closer.h); the loop goes on at once. */
static void tm_close_client(sl_jm *jm, sl_tmreg_entry *tm)
{
    sl_rpc_client *c = tm->client;
    sl_tmreg_conn *conn = tm->conn;
    if (c == NULL && conn == NULL)
        return;
    sl_tmcall_stop(&jm->calls, tm->id);
    tm->client = NULL;
    tm->conn = NULL;
    tm->connected = 0;
    sl_tmcloser_close(&jm->closer, c, conn);
}

/* The connection came up: log it once. */
static void note_connected(sl_tmreg_entry *tm, int64_t now)
{
    if (tm->connected || tm->conn == NULL || !tm->conn->up)
        return;
    tm->connected = 1;
    sl_info("connected to taskmanager %s at tcp://%s:%u (%lld ms after the dial)", tm->id,
            tm->host, tm->rpc_port, (long long)(now - tm->dial_ms));
}

/* 1 if tm's client dialled for longer than the heartbeat timeout without
 * a connection. */
static int dial_expired(const sl_jm *jm, const sl_tmreg_entry *tm, int64_t now)
{
    return tm->client != NULL && tm->conn != NULL && !tm->conn->up && !tm->want_connect &&
           now - tm->dial_ms > jm->hb_timeout_ms;
}

static void check_liveness(sl_jm *jm, int64_t now)
{
    char why[SL_JM_HOST_MAX + 128];
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next) {
        if (tm->state != SL_TMREG_RUNNING)
            continue;
        note_connected(tm, now);
        /* want_connect: registered again, its old client is about to go */
        if (tm->conn != NULL && tm->conn->dropped && !tm->want_connect) {
            sl_tmreg_lose(jm, tm, "connection dropped");
        } else if (now - tm->last_hb_ms > jm->hb_timeout_ms) {
            snprintf(why, sizeof(why), "no heartbeat for %lld ms",
                     (long long)(now - tm->last_hb_ms));
            sl_tmreg_lose(jm, tm, why);
        } else if (dial_expired(jm, tm, now)) {
            snprintf(why, sizeof(why), "cannot connect to tcp://%s:%u within %lld ms", tm->host,
                     tm->rpc_port, (long long)jm->hb_timeout_ms);
            sl_tmreg_lose(jm, tm, why);
        }
    }
}

static void close_lost_clients(sl_jm *jm)
{
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next)
        if (tm->state == SL_TMREG_LOST && (tm->client != NULL || tm->conn != NULL))
            tm_close_client(jm, tm);
}

static void expire_lost(sl_jm *jm, int64_t now)
{
    sl_tmreg_entry **pp = &jm->tms;
    while (*pp != NULL) {
        sl_tmreg_entry *tm = *pp;
        if (tm->state == SL_TMREG_LOST && tm->client == NULL &&
            now - tm->lost_ms >= SL_JM_LOST_KEEP_MS) {
            sl_info("taskmanager %s forgotten (lost %lld ms ago)", tm->id,
                    (long long)(now - tm->lost_ms));
            *pp = tm->next;
            jm->ntms--;
            free(tm->loss);
            free(tm);
        } else {
            pp = &tm->next;
        }
    }
}

/* Opens tm's client; it dials in the background (the pipe callback says
 * when the connection is up), so nothing here waits on the network. */
static void tm_connect(sl_jm *jm, sl_tmreg_entry *tm)
{
    char url[SL_JM_ADDR_MAX], err[512], why[1024];
    sl_rpc_client *c = NULL;
    tm->want_connect = 0;
    tm_close_client(jm, tm);
    if (tm->state != SL_TMREG_RUNNING)
        return; /* lost while its old client closed */
    sl_addr_url(tm->host, (int)tm->rpc_port, url, sizeof(url));
    sl_tmreg_conn *conn = calloc(1, sizeof(*conn));
    int rv = SL_ENOMEM;
    snprintf(err, sizeof(err), "out of memory");
    if (conn != NULL) {
        conn->jm = jm;
        /* jm->mu stays held: a background dial calls tm_pipe_cb only later,
         * on an nng thread */
        rv = sl_rpc_client_open(url, 0, SL_RPC_TM_MAX_MSG, tm_pipe_cb, conn, &c, err, sizeof(err));
    }
    if (rv != SL_OK) {
        free(conn);
        snprintf(why, sizeof(why), "cannot connect: %s", err);
        sl_tmreg_lose(jm, tm, why);
        return;
    }
    sl_rpc_client_set_token(c, tm->token, SL_SESSION_TOKEN_LEN);
    tm->client = c;
    tm->conn = conn;
    tm->dial_ms = sl_now_ms();
    tm->connected = 0;
    sl_info("dialling taskmanager %s at %s", tm->id, url);
}

static void connect_pending(sl_jm *jm)
{
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL && !jm->stopping; tm = tm->next)
        if (tm->want_connect && tm->state == SL_TMREG_RUNNING)
            tm_connect(jm, tm);
}

void sl_tmreg_tick(sl_jm *jm)
{
    int64_t now = sl_now_ms();
    check_liveness(jm, now);
    close_lost_clients(jm);
    expire_lost(jm, now);
    connect_pending(jm);
}

void sl_tmreg_free_all(sl_jm *jm)
{
    sl_tmreg_entry *tm = jm->tms;
    while (tm != NULL) {
        sl_tmreg_entry *next = tm->next;
        sl_rpc_client_close(tm->client);
        free(tm->conn);
        free(tm->loss);
        free(tm);
        tm = next;
    }
    jm->tms = NULL;
    jm->ntms = 0;
}
