/* Control-plane RPC server: one rep0 socket, a fixed set of request slots
 * (an nng_ctx each) and a few worker threads. Included by rpc.h.
 *
 * A slot's aio callback (nng thread, never blocks) only reads the kind of a
 * frame from its envelope (sl_rpc_peek_kind) and queues it; workers check
 * the whole frame against the bounds of common/rpc_bounds.h before
 * unpacking it, run the handler and send the reply. A frame that fails the
 * check or does not unpack is answered STATUS_INVALID ("malformed request
 * frame: <reason>", logged rate-limited) and the server goes on.
 *
 * Two lanes keep heartbeats from waiting behind big requests: heavy kinds
 * (submit, deploy, savepoint work: sl_rpc_kind_heavy) go to a heavy queue,
 * and at most (heavy workers + SL_RPC_HEAVY_SPARE) of them are held at once;
 * one more is answered STATUS_FAILED "server busy" at once, so the other
 * slots always wait for new frames. Everything else goes to the cheap
 * queue. With two or more workers, worker 0 serves only the cheap queue;
 * the others take heavy requests first, then cheap ones. */
#ifndef SL_RPC_SERVER_H
#define SL_RPC_SERVER_H

#include <stddef.h>

#include "common/rpc_bounds.h"
#include "common/util.h"
#include "proto/sluice.pb-c.h"

/* Slots: the heavy requests a server may hold, plus this many per worker
 * that heavy requests can never take. */
#define SL_RPC_SLOTS_PER_WORKER 4
#define SL_RPC_HEAVY_SPARE 4 /* heavy requests queued beyond one per heavy worker */

typedef struct sl_rpc_server sl_rpc_server;

/* Fills *reply (already initialised, status OK) for req. Memory the reply
 * points at comes from `arena`, released after the reply is sent. Runs on a
 * server worker thread; several may run at once. */
typedef void (*sl_rpc_handler)(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                               sl_arena *arena);

/* Listens on url ("tcp://host:port", port 0 = any free) and serves the
 * request kinds of role (enum sl_rpc_role; others are rejected unread)
 * with nworkers threads; frames up to max_msg (rpc.max-message-size).
 * *bound_port (may be NULL) receives the port in use. *out owned by
 * caller: sl_rpc_server_stop. */
int sl_rpc_server_start_role(int role, const char *url, int nworkers, size_t max_msg,
                             sl_rpc_handler fn, void *arg, sl_rpc_server **out, int *bound_port);
/* As sl_rpc_server_start_role, with every request passed through guard
 * (common/rpc_guard.h: authentication, authorization, audit) before its
 * handler; refused ones are answered STATUS_DENIED. guard is not owned and
 * must outlive the server; NULL checks nothing. */
typedef struct sl_rpc_guard sl_rpc_guard;
int sl_rpc_server_start_guarded(int role, const char *url, int nworkers, size_t max_msg,
                                sl_rpc_guard *guard, sl_rpc_handler fn, void *arg,
                                sl_rpc_server **out, int *bound_port);
/* sl_rpc_server_start_role(SL_RPC_SERVE_ALL, ...). */
int sl_rpc_server_start(const char *url, int nworkers, size_t max_msg, sl_rpc_handler fn,
                        void *arg, sl_rpc_server **out, int *bound_port);
/* Joins the workers (in-flight handlers finish and their replies go out;
 * queued requests are dropped unanswered), then closes the socket. */
void sl_rpc_server_stop(sl_rpc_server *srv);

#endif
