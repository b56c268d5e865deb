#include "common/rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/net_addr.h"
#include "common/tls.h"
#include "common/status.h"

struct sl_rpc_client {
    nng_socket sock;
    pthread_mutex_t mu;
    size_t max_msg;
    sl_rpc_pipe_fn pipe_fn;
    void *pipe_arg;
    sl_auth_signer *signer; /* not owned; NULL: requests go unsigned */
    int signed_kind;        /* 0: sign every request, else only this kind */
    pthread_mutex_t token_mu; /* guards token */
    uint8_t token[SL_RPC_TOKEN_MAX];
    size_t token_len;
};

void sl_rpc_client_set_token(sl_rpc_client *c, const uint8_t *token, size_t len)
{
    pthread_mutex_lock(&c->token_mu);
    c->token_len = len <= SL_RPC_TOKEN_MAX ? len : 0;
    if (c->token_len > 0)
        memcpy(c->token, token, c->token_len);
    pthread_mutex_unlock(&c->token_mu);
}

void sl_rpc_client_set_signer(sl_rpc_client *c, sl_auth_signer *signer, int kind)
{
    c->signer = signer;
    c->signed_kind = kind;
}

/* req packed into a new message, with the client's credential appended
 * (auth.h) when it signs requests of this kind. SL_ENOSPC beyond max_msg. */
static int pack_request(sl_rpc_client *c, const Sluice__Request *given, nng_msg **out)
{
    uint8_t token[SL_RPC_TOKEN_MAX];
    Sluice__Request with = *given; /* shallow: the client's token added */
    const Sluice__Request *req = &with;
    pthread_mutex_lock(&c->token_mu);
    if (with.session_token.len == 0 && c->token_len > 0) {
        memcpy(token, c->token, c->token_len);
        with.session_token.data = token;
        with.session_token.len = c->token_len;
    }
    pthread_mutex_unlock(&c->token_mu);
    size_t n = sluice__request__get_packed_size(req), slen = 0;
    uint8_t *suffix = NULL;
    nng_msg *msg = NULL;
    int sign = c->signer != NULL && (c->signed_kind == 0 || c->signed_kind == (int)req->body_case);
    if (n > c->max_msg)
        return SL_ENOSPC;
    if (nng_msg_alloc(&msg, n) != 0)
        return SL_ENOMEM;
    sluice__request__pack(req, nng_msg_body(msg));
    int rv = sign ? sl_auth_sign(c->signer, nng_msg_body(msg), n, sl_wall_ms(), &suffix, &slen)
                  : SL_OK;
    if (rv == SL_OK && n + slen > c->max_msg)
        rv = SL_ENOSPC;
    if (rv == SL_OK && slen > 0 && nng_msg_append(msg, suffix, slen) != 0)
        rv = SL_ENOMEM;
    free(suffix);
    if (rv != SL_OK)
        nng_msg_free(msg);
    *out = rv == SL_OK ? msg : NULL;
    return rv;
}

/* ---- client */

static void client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    sl_rpc_client *c = arg;
    (void)p;
    if (c->pipe_fn != NULL)
        c->pipe_fn(c->pipe_arg, ev == NNG_PIPE_EV_ADD_POST);
}

static int client_dial(sl_rpc_client *c, const char *plain, int blocking, char *err,
                       size_t errlen)
{
    nng_dialer d;
    int rv = sl_tls_dialer_create(c->sock, plain, SL_TLS_RPC_DIAL, &d);
    if (rv == 0)
        rv = nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, c->max_msg);
    if (rv == 0) {
        nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50);
        nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 500);
        rv = nng_dialer_start(d, blocking ? 0 : NNG_FLAG_NONBLOCK);
    }
    if (rv != 0) {
        int tls = sl_tls_on(SL_TLS_RPC_DIAL);
        snprintf(err, errlen, "cannot reach %s: %s%s", plain, nng_strerror(rv),
                 !tls || rv == NNG_ECONNREFUSED || rv == NNG_EADDRINVAL || rv == NNG_ETIMEDOUT
                     ? ""
                 : rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH
                     ? " (TLS handshake: is its certificate signed by our trust-cert, and a name "
                       "it holds the one we dialled?)"
                     : " (over TLS: does it speak TLS?)");
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
    pthread_mutex_init(&c->token_mu, NULL);
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
    pthread_mutex_destroy(&c->token_mu);
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
    pthread_mutex_destroy(&c->token_mu);
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
    nng_msg *msg;
    int prv = pack_request(c, req, &msg);
    if (prv != SL_OK)
        return prv;
    pthread_mutex_lock(&c->mu);
    int rv = call_locked(c, msg, timeout_ms, out);
    pthread_mutex_unlock(&c->mu);
    return rv;
}

/* ---- asynchronous calls
 *
 * One nng req0 context and aio per call. The aio callback runs on an nng
 * thread: after the send it posts the receive (with what is left of the
 * timeout), after the receive it keeps the reply frame and calls done. The
 * frame is unpacked later by sl_rpc_async_result, on the caller's thread. */

enum { ASYNC_SEND = 0, ASYNC_RECV, ASYNC_ENDED };

struct sl_rpc_async {
    nng_ctx ctx;
    int ctx_open;
    nng_aio *aio;
    size_t max_msg;
    int64_t deadline_ms;   /* monotonic */
    int phase;             /* ASYNC_*: the callback's until ENDED */
    int rv;                /* SL_* once ENDED */
    nng_msg *reply;        /* ENDED with rv SL_OK: the reply frame */
    sl_rpc_done_fn done;
    void *arg;
};

static int async_status(int nng_rv)
{
    switch (nng_rv) {
    case 0: return SL_OK;
    case NNG_ETIMEDOUT: return SL_ETIMEDOUT;
    case NNG_ECANCELED: return SL_ECANCELED;
    default: return SL_EUNREACH;
    }
}

static void async_end(sl_rpc_async *a, int rv)
{
    a->rv = rv;
    a->phase = ASYNC_ENDED;
    a->done(a->arg);
}

static void async_cb(void *p)
{
    sl_rpc_async *a = p;
    int rv = nng_aio_result(a->aio);
    if (a->phase == ASYNC_ENDED)
        return;
    if (a->phase == ASYNC_SEND && rv == 0) {
        int64_t left = a->deadline_ms - sl_now_ms();
        a->phase = ASYNC_RECV;
        nng_aio_set_timeout(a->aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(a->ctx, a->aio); /* a stopped aio runs no callback: see stop */
        return;
    }
    if (rv == 0) {
        a->reply = nng_aio_get_msg(a->aio);
        nng_aio_set_msg(a->aio, NULL);
    }
    async_end(a, async_status(rv));
}

static int async_new(sl_rpc_client *c, const Sluice__Request *req, sl_rpc_async **out)
{
    nng_msg *msg = NULL;
    int prv = pack_request(c, req, &msg);
    if (prv != SL_OK)
        return prv;
    sl_rpc_async *a = calloc(1, sizeof(*a));
    if (a == NULL || nng_aio_alloc(&a->aio, async_cb, a) != 0) {
        nng_msg_free(msg);
        free(a);
        return SL_ENOMEM;
    }
    if (nng_ctx_open(&a->ctx, c->sock) != 0) {
        nng_msg_free(msg);
        nng_aio_free(a->aio);
        free(a);
        return SL_EIO;
    }
    a->ctx_open = 1;
    a->max_msg = c->max_msg;
    nng_aio_set_msg(a->aio, msg);
    *out = a;
    return SL_OK;
}

int sl_rpc_call_start(sl_rpc_client *c, const Sluice__Request *req, int timeout_ms,
                      sl_rpc_done_fn done, void *arg, sl_rpc_async **out)
{
    sl_rpc_async *a = NULL;
    int rv = async_new(c, req, &a);
    if (rv != SL_OK)
        return rv;
    a->done = done;
    a->arg = arg;
    a->deadline_ms = sl_now_ms() + timeout_ms;
    a->phase = ASYNC_SEND;
    *out = a; /* before the send: done may run before this returns */
    nng_aio_set_timeout(a->aio, timeout_ms);
    nng_ctx_send(a->ctx, a->aio);
    return SL_OK;
}

void sl_rpc_async_stop(sl_rpc_async *a)
{
    if (a == NULL)
        return;
    nng_aio_stop(a->aio);
    if (a->phase != ASYNC_ENDED) {
        a->rv = SL_ECANCELED;
        a->phase = ASYNC_ENDED;
    }
    nng_msg *left = nng_aio_get_msg(a->aio); /* a failed or stopped send leaves it ours */
    nng_aio_set_msg(a->aio, NULL);
    if (left != NULL)
        nng_msg_free(left);
    if (a->ctx_open)
        nng_ctx_close(a->ctx);
    a->ctx_open = 0;
}

int sl_rpc_async_result(sl_rpc_async *a, Sluice__Reply **out)
{
    *out = NULL;
    if (a->phase != ASYNC_ENDED)
        return SL_EBUSY;
    if (a->rv != SL_OK || a->reply == NULL)
        return a->rv != SL_OK ? a->rv : SL_EPROTO;
    nng_msg *in = a->reply;
    a->reply = NULL;
    Sluice__Reply *reply = NULL;
    if (nng_msg_len(in) <= a->max_msg)
        reply = sluice__reply__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
    nng_msg_free(in);
    a->rv = reply != NULL ? SL_OK : SL_EPROTO;
    *out = reply;
    return a->rv;
}

void sl_rpc_async_free(sl_rpc_async *a)
{
    if (a == NULL)
        return;
    sl_rpc_async_stop(a);
    nng_aio_free(a->aio);
    if (a->reply != NULL)
        nng_msg_free(a->reply);
    free(a);
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
