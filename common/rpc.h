/* Control-plane RPC: protobuf-c Request/Reply envelopes over nng req/rep.
 *
 * Server (common/rpc_server.h): one rep0 socket, a few worker threads each
 * owning an nng_ctx. Every frame is bounded by max_msg (NNG_OPT_RECVMAXSZ:
 * nng drops a connection that sends more); a frame that does not unpack is
 * answered with STATUS_INVALID and the server goes on.
 *
 * req0 resends a request when a connection drops, so every handler must be
 * idempotent. */
#ifndef SL_RPC_H
#define SL_RPC_H

#include <stddef.h>

#include "common/util.h"
#include "common/rpc_server.h"
#include "proto/sluice.pb-c.h"

typedef struct sl_rpc_client sl_rpc_client;

/* Called (on an nng thread: must not block) when the client's connection
 * is established (up = 1) or lost (up = 0). */
typedef void (*sl_rpc_pipe_fn)(void *arg, int up);

/* Opens a client to url. blocking_dial = 1: connect now and fail with
 * SL_EUNREACH (message in err) if nobody listens (a peer that accepts TCP
 * but never answers holds this for nng's handshake timeout, 10 s); 0:
 * return at once, connect in the background and keep retrying (pipe_fn
 * tells when the connection is up). pipe_fn may be NULL. */
int sl_rpc_client_open(const char *url, int blocking_dial, size_t max_msg, sl_rpc_pipe_fn pipe_fn,
                       void *pipe_arg, sl_rpc_client **out, char *err, size_t errlen);
void sl_rpc_client_close(sl_rpc_client *c);
/* From now on, requests of this kind (a Request body field number; 0: all)
 * carry a credential signed by signer (common/auth.h: a certificate and a
 * signature, a few ms of CPU each). signer is not owned and must outlive c;
 * NULL stops signing. Call before the first call. */
typedef struct sl_auth_signer sl_auth_signer;
/* From now on, requests without a session token carry this one
 * (Request.session_token: the jobmanager's calls to a taskmanager carry
 * the token of its registration). len 0 stops. Thread-safe. */
#define SL_RPC_TOKEN_MAX 64
void sl_rpc_client_set_token(sl_rpc_client *c, const uint8_t *token, size_t len);
void sl_rpc_client_set_signer(sl_rpc_client *c, sl_auth_signer *signer, int kind);

/* Sends req and waits up to timeout_ms for the reply. On success *out is
 * owned by the caller (sluice__reply__free_unpacked(*out, NULL)). Calls on
 * one client are serialised. SL_ETIMEDOUT, SL_EUNREACH, SL_EPROTO. */
int sl_rpc_call(sl_rpc_client *c, const Sluice__Request *req, int timeout_ms,
                Sluice__Reply **out);

/* ---- asynchronous calls
 *
 * An sl_rpc_async is one request on its own nng context of a client. It
 * returns at once; the request goes out as soon as the client's connection
 * is up (a client dialled in the background queues it meanwhile) and the
 * reply is received on nng threads, so the caller never waits on the
 * network. Several calls on one client run side by side. */
typedef struct sl_rpc_async sl_rpc_async;

/* Called on an nng thread when a call ends by itself (reply, error,
 * timeout), at most once. It must not block: record the end under a mutex
 * held only briefly elsewhere, signal, return. */
typedef void (*sl_rpc_done_fn)(void *arg);

/* Starts req on c (packed before the return: req may go afterwards) with a
 * deadline of timeout_ms for send and reply together. done(arg) may run
 * before this returns, on another thread. *out is owned by the caller:
 * sl_rpc_async_free; c must stay open until sl_rpc_async_stop or _free.
 * SL_ENOSPC (bigger than the client's max_msg), SL_ENOMEM, SL_EIO. */
int sl_rpc_call_start(sl_rpc_client *c, const Sluice__Request *req, int timeout_ms,
                      sl_rpc_done_fn done, void *arg, sl_rpc_async **out);
/* Ends the call now if it has not ended (its result is then SL_ECANCELED)
 * and releases its context, so the client may close. done may run during
 * this call, on another thread; afterwards it neither runs nor will: the
 * caller must not hold a lock that done takes. Idempotent. */
void sl_rpc_async_stop(sl_rpc_async *a);
/* The result of a call that ended (done ran, or after sl_rpc_async_stop);
 * once. SL_OK with *out set (caller frees: sluice__reply__free_unpacked),
 * SL_ETIMEDOUT, SL_EUNREACH, SL_EPROTO (reply too big or malformed),
 * SL_ECANCELED (stopped); SL_EBUSY if it has not ended. */
int sl_rpc_async_result(sl_rpc_async *a, Sluice__Reply **out);
/* sl_rpc_async_stop, then frees a. NULL is fine. */
void sl_rpc_async_free(sl_rpc_async *a);

/* Names of enum values as users see them ("RUNNING", "FINISHED", ...). */
const char *sl_job_state_name(Sluice__JobState s);
const char *sl_task_state_name(Sluice__TaskState s);

#endif
