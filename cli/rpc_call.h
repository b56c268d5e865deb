/* Requests from the CLI to the jobmanager. Every command sends through
 * sl_cli_call, which opens cli->rpc on first use and turns whatever goes
 * wrong into the message the user sees and the exit code:
 *
 *   the jobmanager cannot be reached, no reply within the
 *   timeout, the connection lost, a reply
 *   STATUS_NOT_LEADER (its error: "not the leader;
 *   the leader is HOST:PORT"), no leader in
 *   ZooKeeper, ZooKeeper cannot be reached          SL_EXIT_UNREACHABLE
 *   the request too large, a reply STATUS_INVALID   SL_EXIT_USAGE (the
 *                                                   jobmanager's message)
 *   out of memory, a malformed reply, a reply
 *   STATUS_FAILED or unknown, any other error       SL_EXIT_FAILED
 *
 * Messages start with cli->subject (run's job file) or "sluice"; an
 * INVALID reply that names the subject already ("file:line:column: ...")
 * is printed as it is.
 *
 * With the leader from ZooKeeper (leader.h), a jobmanager that does not
 * listen or answers STATUS_NOT_LEADER makes it look up the leader again and
 * retry (a failover), for up to cli->retry_ms; with -m it is reported at once.
 *
 * The caller owns a reply it gets and frees it with sl_cli_free_reply. */
#ifndef SL_CLI_RPC_CALL_H
#define SL_CLI_RPC_CALL_H

#include "cli/commands.h"
#include "proto/sluice.pb-c.h"

/* Sends req. On STATUS_OK, *out holds the reply and the result is
 * SL_EXIT_OK; otherwise the problem has been printed, *out is NULL and the
 * exit code is returned. */
int sl_cli_call(sl_cli *cli, const Sluice__Request *req, Sluice__Reply **out);
/* A JobRef request: which is SLUICE__REQUEST__BODY_JOB_INFO, _CANCEL_JOB,
 * _CHECKPOINT_STATS or _TRIGGER_CHECKPOINT_NOW. As sl_cli_call. */
int sl_cli_call_job_ref(sl_cli *cli, Sluice__Request__BodyCase which, const char *job_id,
                        Sluice__Reply **out);
/* NULL is fine. */
void sl_cli_free_reply(Sluice__Reply *reply);

#endif
