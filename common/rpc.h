/* Control-plane RPC: protobuf-c Request/Reply envelopes over nng req/rep.
 *
 * Server: one rep0 socket, a few worker threads each owning an nng_ctx
 * (nng's async-server pattern, with the handler run on our own thread so it
 * may take a lock or do brief work). Every frame is bounded by max_msg
 * (NNG_OPT_RECVMAXSZ: nng drops a connection that sends more); a frame that
 * does not unpack is answered with STATUS_INVALID and the server goes on.
 *
 * req0 resends a request when a connection drops, so every handler must be
 * idempotent. */
#ifndef SL_RPC_H
#define SL_RPC_H

#include <stddef.h>

#include "common/util.h"
#include "proto/sluice.pb-c.h"

typedef struct sl_rpc_server sl_rpc_server;
typedef struct sl_rpc_client sl_rpc_client;

/* Fills *reply (already initialised, status OK) for req. Memory the reply
 * points at comes from `arena`, released after the reply is sent. Runs on a
 * server worker thread; several may run at once. */
typedef void (*sl_rpc_handler)(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                               sl_arena *arena);

/* Listens on url ("tcp://host:port", port 0 = any free) and serves with
 * nworkers threads. *bound_port (may be NULL) receives the port in use.
 * *out owned by caller: sl_rpc_server_stop. */
int sl_rpc_server_start(const char *url, int nworkers, size_t max_msg, sl_rpc_handler fn,
                        void *arg, sl_rpc_server **out, int *bound_port);
/* Closes the socket and joins the workers; in-flight handlers finish first. */
void sl_rpc_server_stop(sl_rpc_server *srv);

/* Called (on an nng thread: must not block) when the client's connection
 * is established (up = 1) or lost (up = 0). */
typedef void (*sl_rpc_pipe_fn)(void *arg, int up);

/* Opens a client to url. blocking_dial = 1: connect now and fail with
 * SL_EUNREACH (message in err) if nobody listens; 0: connect in the
 * background and keep retrying. pipe_fn may be NULL. */
int sl_rpc_client_open(const char *url, int blocking_dial, size_t max_msg, sl_rpc_pipe_fn pipe_fn,
                       void *pipe_arg, sl_rpc_client **out, char *err, size_t errlen);
void sl_rpc_client_close(sl_rpc_client *c);

/* Sends req and waits up to timeout_ms for the reply. On success *out is
 * owned by the caller (sluice__reply__free_unpacked(*out, NULL)). Calls on
 * one client are serialised. SL_ETIMEDOUT, SL_EUNREACH, SL_EPROTO. */
int sl_rpc_call(sl_rpc_client *c, const Sluice__Request *req, int timeout_ms,
                Sluice__Reply **out);

/* Names of enum values as users see them ("RUNNING", "FINISHED", ...). */
const char *sl_job_state_name(Sluice__JobState s);
const char *sl_task_state_name(Sluice__TaskState s);

#endif
