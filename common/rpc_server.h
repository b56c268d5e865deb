/* Control-plane RPC server: one rep0 socket, a few worker threads each
 * owning an nng_ctx (nng's async-server pattern, with the handler run on our
 * own thread so it may take a lock or do brief work). Included by rpc.h. */
#ifndef SL_RPC_SERVER_H
#define SL_RPC_SERVER_H

#include <stddef.h>

#include "common/util.h"
#include "proto/sluice.pb-c.h"

typedef struct sl_rpc_server sl_rpc_server;

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

#endif
