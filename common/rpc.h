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
