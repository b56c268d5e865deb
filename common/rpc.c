#include "common/rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"

struct sl_rpc_client {
    nng_socket sock;
    pthread_mutex_t mu;
    size_t max_msg;
    sl_rpc_pipe_fn pipe_fn;
    void *pipe_arg;
};

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
