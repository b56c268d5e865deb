#include "common/rpc_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
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

