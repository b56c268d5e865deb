#include "common/rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"

struct sl_rpc_server {
    nng_socket sock;
    int nworkers;
    pthread_t *threads;
    size_t max_msg;
    sl_rpc_handler fn;
    void *arg;
};

struct sl_rpc_client {
    nng_socket sock;
    pthread_mutex_t mu;
    size_t max_msg;
    sl_rpc_pipe_fn pipe_fn;
    void *pipe_arg;
};

/* ---- server */

static nng_msg *pack_reply(const Sluice__Reply *reply)
{
    size_t n = sluice__reply__get_packed_size(reply);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, n) != 0)
        return NULL;
    sluice__reply__pack(reply, nng_msg_body(msg));
    return msg;
}

static nng_msg *serve_one(sl_rpc_server *srv, nng_msg *in)
{
    Sluice__Reply reply = SLUICE__REPLY__INIT;
    sl_arena arena = {0};
    size_t len = nng_msg_len(in);
    Sluice__Request *req = NULL;
    if (len <= srv->max_msg)
        req = sluice__request__unpack(NULL, len, nng_msg_body(in));
    if (req == NULL || req->body_case == SLUICE__REQUEST__BODY__NOT_SET) {
        sl_warn("rpc: rejected a malformed request frame of %zu bytes", len);
        reply.status = SLUICE__STATUS__STATUS_INVALID;
        reply.error = "malformed request frame";
    } else {
        srv->fn(srv->arg, req, &reply, &arena);
    }
    nng_msg *out = pack_reply(&reply);
    if (req != NULL)
        sluice__request__free_unpacked(req, NULL);
    sl_arena_free(&arena);
    return out;
}

static int worker_recv(nng_ctx ctx, nng_aio *aio, nng_msg **msg)
{
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    if (rv == 0)
        *msg = nng_aio_get_msg(aio);
    return rv;
}

static void *worker_main(void *p)
{
    sl_rpc_server *srv = p;
    nng_ctx ctx;
    nng_aio *aio = NULL;
    if (nng_ctx_open(&ctx, srv->sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0)
        return NULL;
    for (;;) {
        nng_msg *in = NULL;
        int rv = worker_recv(ctx, aio, &in);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue;
        nng_msg *out = serve_one(srv, in);
        nng_msg_free(in);
        if (out == NULL)
            continue;
        nng_aio_set_msg(aio, out);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            nng_msg_free(out); /* a failed send leaves the message ours */
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return NULL;
}

static int server_listen(sl_rpc_server *srv, const char *url, int *bound_port)
{
    nng_listener l;
    int rv = nng_listener_create(&l, srv->sock, url);
    if (rv == 0)
        rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, srv->max_msg);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0) {
        sl_error("rpc: cannot listen on %s: %s", url, nng_strerror(rv));
        return SL_EIO;
    }
    if (bound_port != NULL) {
        int port = 0;
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
        *bound_port = port;
    }
    return SL_OK;
}

int sl_rpc_server_start(const char *url, int nworkers, size_t max_msg, sl_rpc_handler fn,
                        void *arg, sl_rpc_server **out, int *bound_port)
{
    sl_rpc_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return SL_ENOMEM;
    srv->nworkers = 0;
    srv->max_msg = max_msg;
    srv->fn = fn;
    srv->arg = arg;
    int rv = SL_EIO;
    if (nng_rep0_open(&srv->sock) != 0)
        goto fail_free;
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, max_msg);
    rv = server_listen(srv, url, bound_port);
    if (rv != SL_OK)
        goto fail_close;
    srv->threads = calloc((size_t)nworkers, sizeof(pthread_t));
    if (srv->threads == NULL) {
        rv = SL_ENOMEM;
        goto fail_close;
    }
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
            break;
        srv->nworkers++;
    }
    *out = srv;
    return SL_OK;
fail_close:
    nng_close(srv->sock);
fail_free:
    free(srv);
    return rv;
}

void sl_rpc_server_stop(sl_rpc_server *srv)
{
    if (srv == NULL)
        return;
    nng_close(srv->sock);
    for (int i = 0; i < srv->nworkers; i++)
        pthread_join(srv->threads[i], NULL);
    free(srv->threads);
    free(srv);
}

/* ---- client */

static void client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    sl_rpc_client *c = arg;
    (void)p;
    if (c->pipe_fn != NULL)
        c->pipe_fn(c->pipe_arg, ev == NNG_PIPE_EV_ADD_POST);
}

static int client_dial(sl_rpc_client *c, const char *url, int blocking, char *err, size_t errlen)
{
    nng_dialer d;
    int rv = nng_dialer_create(&d, c->sock, url);
    if (rv == 0)
        rv = nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, c->max_msg);
    if (rv == 0) {
        nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50);
        nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 500);
        rv = nng_dialer_start(d, blocking ? 0 : NNG_FLAG_NONBLOCK);
    }
    if (rv != 0) {
        snprintf(err, errlen, "cannot reach %s: %s", url, nng_strerror(rv));
        return SL_EUNREACH;
    }
    return SL_OK;
}

int sl_rpc_client_open(const char *url, int blocking_dial, size_t max_msg, sl_rpc_pipe_fn pipe_fn,
                       void *pipe_arg, sl_rpc_client **out, char *err, size_t errlen)
{
    sl_rpc_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SL_ENOMEM;
    c->max_msg = max_msg;
    c->pipe_fn = pipe_fn;
    c->pipe_arg = pipe_arg;
    int rv = SL_EIO;
    if (nng_req0_open(&c->sock) != 0) {
        snprintf(err, errlen, "cannot open an nng socket");
        goto fail_free;
    }
    pthread_mutex_init(&c->mu, NULL);
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, max_msg);
    nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (pipe_fn != NULL) {
        nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, client_pipe_cb, c);
        nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, client_pipe_cb, c);
    }
    rv = client_dial(c, url, blocking_dial, err, errlen);
    if (rv != SL_OK)
        goto fail_close;
    *out = c;
    return SL_OK;
fail_close:
    nng_close(c->sock);
    pthread_mutex_destroy(&c->mu);
fail_free:
    free(c);
    return rv;
}

void sl_rpc_client_close(sl_rpc_client *c)
{
    if (c == NULL)
        return;
    nng_close(c->sock);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int call_locked(sl_rpc_client *c, nng_msg *msg, int timeout_ms, Sluice__Reply **out)
{
    nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
    int rv = nng_sendmsg(c->sock, msg, 0);
    if (rv != 0) {
        nng_msg_free(msg);
        return rv == NNG_ETIMEDOUT ? SL_ETIMEDOUT : SL_EUNREACH;
    }
    nng_msg *in = NULL;
    rv = nng_recvmsg(c->sock, &in, 0);
    if (rv != 0)
        return rv == NNG_ETIMEDOUT ? SL_ETIMEDOUT : SL_EUNREACH;
    Sluice__Reply *reply = NULL;
    if (nng_msg_len(in) <= c->max_msg)
        reply = sluice__reply__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
    nng_msg_free(in);
    if (reply == NULL)
        return SL_EPROTO;
    *out = reply;
    return SL_OK;
}

int sl_rpc_call(sl_rpc_client *c, const Sluice__Request *req, int timeout_ms,
                Sluice__Reply **out)
{
    size_t n = sluice__request__get_packed_size(req);
    if (n > c->max_msg)
        return SL_ENOSPC;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, n) != 0)
        return SL_ENOMEM;
    sluice__request__pack(req, nng_msg_body(msg));
    pthread_mutex_lock(&c->mu);
    int rv = call_locked(c, msg, timeout_ms, out);
    pthread_mutex_unlock(&c->mu);
    return rv;
}

const char *sl_job_state_name(Sluice__JobState s)
{
    switch (s) {
    case SLUICE__JOB_STATE__JOB_CREATED: return "CREATED";
    case SLUICE__JOB_STATE__JOB_RUNNING: return "RUNNING";
    case SLUICE__JOB_STATE__JOB_FAILING: return "FAILING";
    case SLUICE__JOB_STATE__JOB_RESTARTING: return "RESTARTING";
    case SLUICE__JOB_STATE__JOB_FAILED: return "FAILED";
    case SLUICE__JOB_STATE__JOB_CANCELLING: return "CANCELLING";
    case SLUICE__JOB_STATE__JOB_CANCELED: return "CANCELED";
    case SLUICE__JOB_STATE__JOB_FINISHED: return "FINISHED";
    default: return "UNKNOWN";
    }
}

const char *sl_task_state_name(Sluice__TaskState s)
{
    switch (s) {
    case SLUICE__TASK_STATE__TASK_CREATED: return "CREATED";
    case SLUICE__TASK_STATE__TASK_DEPLOYING: return "DEPLOYING";
    case SLUICE__TASK_STATE__TASK_RUNNING: return "RUNNING";
    case SLUICE__TASK_STATE__TASK_FINISHED: return "FINISHED";
    case SLUICE__TASK_STATE__TASK_CANCELING: return "CANCELING";
    case SLUICE__TASK_STATE__TASK_CANCELED: return "CANCELED";
    case SLUICE__TASK_STATE__TASK_FAILED: return "FAILED";
    default: return "UNKNOWN";
    }
}
