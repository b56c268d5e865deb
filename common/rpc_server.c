#include "common/rpc_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc_guard.h"
#include "common/net_addr.h"
#include "common/tls.h"
#include "common/status.h"

#define REASON_MAX 256
/* Longest a reply may wait to be sent: a peer that sends requests and never
 * reads the replies must not hold a slot (and so the server) for ever. */
#define REPLY_SEND_TIMEOUT_MS 5000

enum slot_state { SLOT_RECV, SLOT_QUEUED, SLOT_SERVED, SLOT_SEND };

/* One request in flight: its context, its aio and, from receipt until the
 * reply is built, the request message. */
typedef struct slot {
    struct sl_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    int open; /* ctx and aio exist */
    enum slot_state state;
    nng_msg *req;
    int heavy;
    struct slot *next; /* in its queue */
} slot;

typedef struct queue {
    slot *head, *tail;
} queue;

typedef struct worker {
    struct sl_rpc_server *srv;
    pthread_t thread;
    int cheap_only;
} worker;

struct sl_rpc_server {
    nng_socket sock;
    int role;
    size_t max_msg;
    sl_rpc_handler fn;
    void *arg;
    sl_rpc_guard *guard; /* not owned; NULL: no checks */
    pthread_mutex_t mu; /* guards the queues, heavy_held, stopping, closing */
    pthread_cond_t cv;
    queue cheap, heavy;
    int heavy_held; /* heavy requests queued or being served */
    int heavy_max;
    int stopping; /* workers finish; new requests are dropped */
    int closing;  /* no more nng operations on slots */
    slot *slots;
    int nslots;
    worker *workers;
    int nworkers;
};

/* ---- queues (under srv->mu) */

static void queue_push(queue *q, slot *s)
{
    s->next = NULL;
    if (q->tail != NULL)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
}

static slot *queue_pop(queue *q)
{
    slot *s = q->head;
    if (s != NULL) {
        q->head = s->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    return s;
}

/* ---- replies */

static nng_msg *pack_reply(const Sluice__Reply *reply)
{
    size_t n = sluice__reply__get_packed_size(reply);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, n) != 0)
        return NULL;
    sluice__reply__pack(reply, nng_msg_body(msg));
    return msg;
}

/* Submits the slot's next operation: sending out, or receiving the next
 * request if out is NULL. Under srv->mu and never once the socket is being
 * closed, so no nng call on a slot can race with nng_close. */
static void slot_submit(slot *s, nng_msg *out)
{
    sl_rpc_server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    if (srv->closing) {
        pthread_mutex_unlock(&srv->mu);
        if (out != NULL)
            nng_msg_free(out);
        return;
    }
    if (out != NULL) {
        s->state = SLOT_SEND;
        nng_aio_set_msg(s->aio, out);
        nng_aio_set_timeout(s->aio, REPLY_SEND_TIMEOUT_MS);
        nng_ctx_send(s->ctx, s->aio);
    } else {
        s->state = SLOT_RECV;
        nng_aio_set_timeout(s->aio, NNG_DURATION_INFINITE);
        nng_ctx_recv(s->ctx, s->aio);
    }
    pthread_mutex_unlock(&srv->mu);
}

static nng_msg *error_reply(Sluice__Status st, const char *error)
{
    Sluice__Reply reply = SLUICE__REPLY__INIT;
    reply.status = st;
    reply.error = (char *)error;
    return pack_reply(&reply);
}

/* ---- serving (worker threads) */

static nng_msg *reject(size_t len, int kind, const char *why)
{
    char error[REASON_MAX + 32];
    sl_warn_limited("rpc: rejected a %s request frame of %zu bytes: %s", sl_rpc_kind_name(kind),
                    len, why);
    snprintf(error, sizeof(error), "malformed request frame: %s", why);
    return error_reply(SLUICE__STATUS__STATUS_INVALID, error);
}

static nng_msg *serve_one(sl_rpc_server *srv, nng_msg *in)
{
    char why[REASON_MAX];
    const uint8_t *body = nng_msg_body(in);
    size_t len = nng_msg_len(in);
    int kind = 0;
    if (sl_rpc_check_request(srv->role, srv->max_msg, body, len, &kind, why, sizeof(why)) !=
        SL_OK)
        return reject(len, kind, why);
    Sluice__Request *req = sluice__request__unpack(NULL, len, body);
    if (req == NULL || req->body_case == SLUICE__REQUEST__BODY__NOT_SET) {
        if (req != NULL)
            sluice__request__free_unpacked(req, NULL);
        return reject(len, kind, "it does not unpack");
    }
    char denied[REASON_MAX + 256];
    if (srv->guard != NULL &&
        sl_guard_check(srv->guard, body, len, req, denied, sizeof(denied)) != SL_OK) {
        sluice__request__free_unpacked(req, NULL);
        return error_reply(SLUICE__STATUS__STATUS_DENIED, denied);
    }
    Sluice__Reply reply = SLUICE__REPLY__INIT;
    sl_arena arena = {0};
    srv->fn(srv->arg, req, &reply, &arena);
    nng_msg *out = pack_reply(&reply);
    sluice__request__free_unpacked(req, NULL);
    sl_arena_free(&arena);
    return out;
}

/* The next slot for w, NULL once the server stops. */
static slot *take(worker *w)
{
    sl_rpc_server *srv = w->srv;
    slot *s = NULL;
    pthread_mutex_lock(&srv->mu);
    while (!srv->stopping && s == NULL) {
        if (!w->cheap_only)
            s = queue_pop(&srv->heavy);
        if (s == NULL)
            s = queue_pop(&srv->cheap);
        if (s == NULL)
            pthread_cond_wait(&srv->cv, &srv->mu);
    }
    if (s != NULL)
        s->state = SLOT_SERVED;
    pthread_mutex_unlock(&srv->mu);
    return s;
}

static void *worker_main(void *p)
{
    worker *w = p;
    sl_rpc_server *srv = w->srv;
    slot *s;
    while ((s = take(w)) != NULL) {
        nng_msg *out = serve_one(srv, s->req);
        nng_msg_free(s->req);
        s->req = NULL;
        if (s->heavy) {
            pthread_mutex_lock(&srv->mu);
            srv->heavy_held--;
            pthread_mutex_unlock(&srv->mu);
        }
        slot_submit(s, out);
    }
    return NULL;
}

/* ---- slot callbacks (nng threads: classify and queue, never block) */

static void slot_received(slot *s)
{
    sl_rpc_server *srv = s->srv;
    int kind = sl_rpc_peek_kind(nng_msg_body(s->req), nng_msg_len(s->req));
    int busy = 0, stopping;
    s->heavy = sl_rpc_kind_heavy(kind);
    pthread_mutex_lock(&srv->mu);
    stopping = srv->stopping;
    if (!stopping) {
        busy = s->heavy && srv->heavy_held >= srv->heavy_max;
        if (!busy) {
            srv->heavy_held += s->heavy;
            s->state = SLOT_QUEUED;
            queue_push(s->heavy ? &srv->heavy : &srv->cheap, s);
            pthread_cond_broadcast(&srv->cv);
        }
    }
    pthread_mutex_unlock(&srv->mu);
    if (!stopping && !busy)
        return;
    nng_msg_free(s->req);
    s->req = NULL;
    if (stopping)
        return;
    sl_warn_limited("rpc: server busy: a %s request refused, %d large requests in progress",
                    sl_rpc_kind_name(kind), srv->heavy_max);
    slot_submit(s, error_reply(SLUICE__STATUS__STATUS_FAILED,
                             "server busy: too many large requests in progress, try again"));
}

static void slot_cb(void *p)
{
    slot *s = p;
    int rv = nng_aio_result(s->aio);
    if (s->state == SLOT_SEND && rv != 0)
        nng_msg_free(nng_aio_get_msg(s->aio)); /* a failed send leaves the message ours */
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (s->state == SLOT_SEND || rv != 0) {
        slot_submit(s, NULL);
        return;
    }
    s->req = nng_aio_get_msg(s->aio);
    nng_aio_set_msg(s->aio, NULL);
    slot_received(s);
}

/* ---- start / stop */

static int server_listen(sl_rpc_server *srv, const char *plain, int *bound_port)
{
    nng_listener l;
    int rv = sl_tls_listener_create(srv->sock, plain, SL_TLS_RPC_LISTEN, &l);
    if (rv == 0)
        rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, srv->max_msg);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0) {
        sl_error("rpc: cannot listen on %s: %s", plain, nng_strerror(rv));
        return SL_EIO;
    }
    if (bound_port != NULL) {
        int port = 0;
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
        *bound_port = port;
    }
    return SL_OK;
}

static int open_slots(sl_rpc_server *srv, int n)
{
    srv->slots = calloc((size_t)n, sizeof(*srv->slots));
    if (srv->slots == NULL)
        return SL_ENOMEM;
    for (; srv->nslots < n; srv->nslots++) {
        slot *s = &srv->slots[srv->nslots];
        s->srv = srv;
        if (nng_aio_alloc(&s->aio, slot_cb, s) != 0)
            return SL_ENOMEM;
        if (nng_ctx_open(&s->ctx, srv->sock) != 0) {
            nng_aio_free(s->aio);
            return SL_EIO;
        }
        s->open = 1;
    }
    return SL_OK;
}

static int start_workers(sl_rpc_server *srv, int n)
{
    srv->workers = calloc((size_t)n, sizeof(*srv->workers));
    if (srv->workers == NULL)
        return SL_ENOMEM;
    for (; srv->nworkers < n; srv->nworkers++) {
        worker *w = &srv->workers[srv->nworkers];
        w->srv = srv;
        w->cheap_only = srv->nworkers == 0 && n > 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return srv->nworkers > 0 ? SL_OK : SL_ENOMEM;
    }
    return SL_OK;
}

static int server_init(sl_rpc_server *srv, int role, int nworkers, size_t max_msg,
                       sl_rpc_handler fn, void *arg)
{
    srv->role = role;
    srv->max_msg = max_msg;
    srv->fn = fn;
    srv->arg = arg;
    srv->heavy_max = (nworkers > 1 ? nworkers - 1 : 1) + SL_RPC_HEAVY_SPARE;
    if (pthread_mutex_init(&srv->mu, NULL) != 0)
        return SL_ENOMEM;
    if (pthread_cond_init(&srv->cv, NULL) != 0) {
        pthread_mutex_destroy(&srv->mu);
        return SL_ENOMEM;
    }
    return SL_OK;
}

int sl_rpc_server_start_role(int role, const char *url, int nworkers, size_t max_msg,
                             sl_rpc_handler fn, void *arg, sl_rpc_server **out, int *bound_port)
{
    return sl_rpc_server_start_guarded(role, url, nworkers, max_msg, NULL, fn, arg, out,
                                       bound_port);
}

int sl_rpc_server_start_guarded(int role, const char *url, int nworkers, size_t max_msg,
                                sl_rpc_guard *guard, sl_rpc_handler fn, void *arg,
                                sl_rpc_server **out, int *bound_port)
{
    sl_rpc_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return SL_ENOMEM;
    if (nworkers < 1)
        nworkers = 1;
    srv->guard = guard;
    int rv = server_init(srv, role, nworkers, max_msg, fn, arg);
    if (rv != SL_OK) {
        free(srv);
        return rv;
    }
    rv = SL_EIO;
    if (nng_rep0_open(&srv->sock) != 0)
        goto fail;
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, max_msg);
    if ((rv = open_slots(srv, srv->heavy_max + nworkers * SL_RPC_SLOTS_PER_WORKER)) != SL_OK ||
        (rv = server_listen(srv, url, bound_port)) != SL_OK ||
        (rv = start_workers(srv, nworkers)) != SL_OK)
        goto fail;
    for (int i = 0; i < srv->nslots; i++)
        slot_submit(&srv->slots[i], NULL);
    *out = srv;
    return SL_OK;
fail:
    sl_rpc_server_stop(srv);
    return rv;
}

int sl_rpc_server_start(const char *url, int nworkers, size_t max_msg, sl_rpc_handler fn,
                        void *arg, sl_rpc_server **out, int *bound_port)
{
    return sl_rpc_server_start_role(SL_RPC_SERVE_ALL, url, nworkers, max_msg, fn, arg, out,
                                    bound_port);
}

void sl_rpc_server_stop(sl_rpc_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    pthread_mutex_lock(&srv->mu);
    srv->closing = 1;
    pthread_mutex_unlock(&srv->mu);
    nng_close(srv->sock); /* a socket never opened has id 0: nng ignores it */
    for (int i = 0; i < srv->nslots; i++) {
        slot *s = &srv->slots[i];
        if (!s->open)
            continue;
        nng_aio_stop(s->aio);
        if (s->req != NULL)
            nng_msg_free(s->req); /* queued, never served */
        nng_aio_free(s->aio);
    }
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv->workers);
    free(srv->slots);
    free(srv);
}
